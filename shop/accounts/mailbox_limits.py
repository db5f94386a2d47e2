"""How often the store emails one mailbox on a stranger's request.

/register and /password/forgot are limited per client address, but one person with many
addresses could still make the store write to any victim again and again. So each
mailbox gets at most MAILBOX_EMAIL_LIMIT such emails (both pages together); a request
over it gets the same neutral answer and sends nothing, so nothing is revealed. The
counters live in RATELIMIT_STORAGE_URI (Redis when several processes serve), keyed by a
digest: they never hold an email in clear.
"""

from __future__ import annotations

from flask import current_app

from shop.rate_limits import digest, take

MAILBOX_EMAIL_LIMIT = "3 per hour"


def may_email(email: str) -> bool:
    """Count one account email to `email`; False when the mailbox has had its share."""
    limit = current_app.config.get("MAILBOX_EMAIL_LIMIT", MAILBOX_EMAIL_LIMIT)
    return take(limit, "mailbox:" + digest("mailbox|" + email.strip().lower()))
