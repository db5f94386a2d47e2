"""The pages a shopper looks for (shipping, returns, contact, privacy, terms): fixed
addresses under /pages/, their title and text written by admins under /admin/pages."""
