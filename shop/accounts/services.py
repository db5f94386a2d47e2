"""Users and roles. Services flush; the caller commits."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from shop.accounts.models import Role, User, UserRole
from shop.extensions import db
from shop.orders.models import Order
from shop.timeutil import utcnow

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A request about accounts that cannot be met; the message is safe to show."""


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        if not raw.strip():
            raise AccountError(_("That is not a valid email address.")) from exc
        raise AccountError(
            _("%(address)s is not a valid email address.", address=raw.strip())
        ) from exc


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            _("The password must have at least %(num)d characters.", num=MIN_PASSWORD_LENGTH)
        )


def user_by_email(email: str) -> User | None:
    if "\x00" in email:  # no address holds one, and PostgreSQL refuses it in text
        return None
    return db.session.scalars(
        select(User)
        .where(func.lower(User.email) == email.lower())
        .options(selectinload(User.roles))
    ).one_or_none()


def create_user(email: str, password: str, roles: set[Role], name: str = "") -> User:
    address = normalise_email(email)
    check_new_password(password)
    if user_by_email(address) is not None:
        raise AccountError(_("There is already an account for %(address)s.", address=address))
    user = User(email=address, name=name.strip())
    user.set_password(password)
    user.roles = [UserRole(role=r) for r in sorted(roles or {Role.CUSTOMER})]
    db.session.add(user)
    db.session.flush()
    return user


@dataclass(frozen=True)
class Registration:
    user: User
    new: bool  # False: the address already had an account, which is left as it was


def register(email: str, name: str = "") -> Registration:
    """Ask for an account for `email`; the mailbox owner finishes it by choosing a password.

    Nobody's password is taken from the registration form: whoever registers an address
    (its owner, or a stranger getting in before a guest buyer) only causes a link to be
    mailed to it, so the account's password is always chosen by whoever reads that
    mailbox, and the account is verified by that same step. An address that already
    has an account is left alone (its owner is told instead). Both cases cost one
    password hash, so the answer's timing does not tell them apart either.
    """
    address = normalise_email(email)
    existing = user_by_email(address)
    unguessable = secrets.token_urlsafe(32)
    if existing is not None:
        generate_password_hash(unguessable)  # as long as creating one takes
        return Registration(existing, new=False)
    user = User(email=address, name=name.strip(), roles=[UserRole(role=Role.CUSTOMER)])
    user.set_password(unguessable)  # nobody knows it: the emailed link sets the real one
    db.session.add(user)
    db.session.flush()
    return Registration(user, new=True)


def add_roles(user: User, roles: set[Role]) -> None:
    missing = set(roles) - {r.role for r in user.roles}
    user.roles.extend(UserRole(role=r) for r in sorted(missing))
    db.session.flush()


@functools.cache
def _unknown_user_hash() -> str:
    """Checked when the email is unknown, so it costs as long as a wrong password."""
    return generate_password_hash("no account has this password")


def authenticate(email: str, password: str) -> User | None:
    """The user, when the email and password match an active account; else None.

    An unknown email still checks a password hash, so both failures take the same time.
    """
    user = user_by_email(email.strip())
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


# --- emailed links: password reset and email verification ----------------------------

RESET_MINUTES = 60
VERIFY_DAYS = 3


def _serializer(purpose: str):

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"accounts.{purpose}")


def _hash_tail(user: User) -> str:
    # Part of the current password hash: once the password changes, the link is spent.
    return user.password_hash[-16:]


def reset_token(user: User) -> str:
    return _serializer("reset").dumps({"u": user.id, "h": _hash_tail(user)})


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _serializer("reset").loads(token, max_age=RESET_MINUTES * 60)
    except BadSignature:  # also SignatureExpired
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("h") != _hash_tail(user):
        return None
    return user


def end_sessions(user: User) -> None:
    """Every session signed in as `user` so far stops working (cookies copied anywhere
    included): the session version in their user id no longer matches."""
    user.session_version = (user.session_version or 1) + 1
    db.session.flush()


def change_password(user: User, new_password: str) -> None:
    """Set a new password and end every session signed in with the old one."""
    check_new_password(new_password)
    user.set_password(new_password)
    end_sessions(user)


def set_password_from_link(token: str, new_password: str) -> User | None:
    """The emailed link (reset, or finishing a registration): None when it is invalid,
    expired or spent. Whoever holds it reads the account's mailbox and now chose its
    password, so the address counts as confirmed."""
    user = user_for_reset_token(token)
    if user is None:
        return None
    change_password(user, new_password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        db.session.flush()
    return user


def verification_token(user: User) -> str:
    return _serializer("verify").dumps({"u": user.id, "e": user.email})


def verify_email(token: str, signed_in: User) -> bool:
    """Confirm `signed_in`'s address with the token mailed to it.

    Both halves are needed: the token shows the mailbox, the session shows the
    password. A mailbox owner who clicks a link that a stranger's registration sent
    them (before registration stopped taking passwords) must not confirm the account
    whose password the stranger knows.
    """
    try:
        data = _serializer("verify").loads(token, max_age=VERIFY_DAYS * 86400)
    except BadSignature:
        return False
    if not isinstance(data, dict) or data.get("u") != signed_in.id:
        return False
    if data.get("e") != signed_in.email:
        return False
    if signed_in.email_verified_at is None:
        signed_in.email_verified_at = utcnow()
        db.session.flush()
    return True


def claimable_orders(user: User) -> int:
    """Guest orders placed with this (verified) email and not yet in an account."""
    if user.email_verified_at is None:
        return 0
    return db.session.scalar(
        select(func.count(Order.id)).where(
            func.lower(Order.email) == user.email, Order.user_id.is_(None)
        )
    )


def claim_orders(user: User) -> int:
    """Attach guest orders with the user's verified email to the account: only ever when
    its signed-in owner asks (the button on /account), never as a side effect."""
    if user.email_verified_at is None:
        raise AccountError(_("Please confirm your email address first."))
    return db.session.execute(
        update(Order)
        .where(func.lower(Order.email) == user.email, Order.user_id.is_(None))
        .values(user_id=user.id)
    ).rowcount


def save_language(user: User, code: str) -> None:
    """The user's choice of language for the store's pages (shop/i18n.py checks `code`)."""
    user.language = code
    db.session.flush()
