"""How often the store emails one mailbox on a stranger's request.

/register and /password/forgot are limited per client address, but one person with many
addresses could still make the store write to any victim again and again. So each
mailbox gets at most MAILBOX_EMAIL_LIMIT such emails (both pages together); a request
over it gets the same neutral answer and sends nothing, so nothing is revealed. The
counters live in RATELIMIT_STORAGE_URI (Redis when several processes serve), keyed by a
digest: they never hold an email in clear.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from limits import parse

from shop.extensions import limiter

MAILBOX_EMAIL_LIMIT = "3 per hour"


def _mailbox_key(email: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]
    return f"{current_app.config.get('RATELIMIT_KEY_PREFIX', '')}mailbox:{digest}"


def may_email(email: str) -> bool:
    """Count one account email to `email`; False when the mailbox has had its share."""
    if not limiter.enabled:
        return True
    limit = parse(current_app.config.get("MAILBOX_EMAIL_LIMIT", MAILBOX_EMAIL_LIMIT))
    return limiter.limiter.hit(limit, _mailbox_key(email))
