"""How many failed sign-ins are allowed, counted per address and per account.

Only failures count (a 401), but each attempt takes its slot before the password is
checked and gives it back when it succeeds (shop.rate_limits), so attempts sent at once
never get more password checks than the limit. Per address: the eleventh failure in a minute from one
address is refused, whatever the account. Per account: ten failures in a minute, from
anywhere, shut the account to browsers and addresses that never signed in to it, but
not to a browser holding its signed "known device" cookie, nor to an address it signed
in from before: failures from elsewhere cannot lock the owner out. Counters and known
addresses live in RATELIMIT_STORAGE_URI (Redis when several processes serve), keyed
by digests, so they never hold an email or an address in clear.
"""

from __future__ import annotations

import hmac
from contextlib import suppress

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shop.extensions import limiter
from shop.rate_limits import (
    Counter,
    LimitsUnavailable,
    client_digest,
    counted,
    digest,
    storage_call,
)

SIGN_IN_LIMIT = "10 per minute"
KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_FOR_DAYS = 365
KNOWN_ACCOUNTS_PER_BROWSER = 5


def failed_sign_in(response) -> bool:
    return response.status_code == 401


def _submitted_email() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


def submitted_account() -> str:
    """The limiter key of the account being tried: a keyed digest of its email (a plain
    hash of an email can be found again by hashing a list of emails)."""
    return "account:" + digest("account|" + _submitted_email())


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="accounts.known-device")


def _known_by_this_browser() -> list[int]:
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return []
    try:
        ids = _device_serializer().loads(raw, max_age=KNOWN_FOR_DAYS * 86400)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _known_address_key(user_id: int) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"{user_id}|{get_remote_address()}".encode(), "sha256")
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return f"{prefix}known-address:{digest.hexdigest()[:32]}"


def signed_in_here_before() -> bool:
    """True when this browser or this address once signed in to the account being tried:
    the per-account limit does not apply to it (the per-address one still does)."""
    from shop.accounts.services import user_by_email

    email = _submitted_email()
    user = user_by_email(email) if email else None
    if user is None:
        return False
    if user.id in _known_by_this_browser():
        return True
    key = _known_address_key(user.id)
    return storage_call(lambda: limiter.storage.get(key)) > 0


def remember_sign_in(user_id: int, response) -> None:
    """After a successful sign-in: this browser and this address are known to the account."""
    key = _known_address_key(user_id)
    # When the storage has just gone away the sign-in stands; the address is not remembered.
    with suppress(LimitsUnavailable):
        storage_call(lambda: limiter.storage.incr(key, KNOWN_FOR_DAYS * 86400))
    others = [i for i in _known_by_this_browser() if i != user_id]
    ids = [user_id, *others][:KNOWN_ACCOUNTS_PER_BROWSER]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        _device_serializer().dumps(ids),
        max_age=KNOWN_FOR_DAYS * 86400,
        httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        samesite="Lax",
    )


def _sign_in_counters() -> list[Counter]:
    counters = [(SIGN_IN_LIMIT, "sign-in-address:" + client_digest())]
    if not signed_in_here_before():
        counters.append((SIGN_IN_LIMIT, "sign-in-" + submitted_account()))
    return counters


def _password_change_counters() -> list[Counter]:
    return [(SIGN_IN_LIMIT, "password-change-address:" + client_digest())]


# Sign-in: per address and per account (unless this browser or address is known to it).
limited = counted(_sign_in_counters, counts=failed_sign_in, action=_l("sign-ins"))
# Changing one's password checks the current one: its failures count per address.
password_change_limited = counted(
    _password_change_counters, counts=failed_sign_in, action=_l("password changes")
)
