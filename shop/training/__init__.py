"""Training accounts: the ledger, sale shares, refund reversals, withdrawals,
development plans, the staff review pages and the public impact page."""
