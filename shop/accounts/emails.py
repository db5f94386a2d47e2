"""The emails an account holder gets, each sent by a job after the commit that called
for it, in the language the account chose (English if none). The job carries the user's id; the address and the link are read and made when
it runs (a reset link made then is as fresh as the send)."""

from __future__ import annotations

from flask_babel import gettext as _

from shop import jobs, mail
from shop.accounts import services as accounts
from shop.accounts.models import User
from shop.extensions import db
from shop.i18n import force_language
from shop.jobs.outbox import JobRun, end_reading
from shop.mail import build
from shop.web import public_url

REGISTRATION, PASSWORD_RESET, VERIFICATION = "registration_email", "password_reset", "verify_email"


def password_link(user: User) -> str:
    """The emailed link that lets the mailbox's owner choose the account's password.
    Its token is after '#': browsers never send that part, so it stays out of access logs
    and Referer headers (the page's script moves it into the form)."""
    return f"{public_url('accounts.reset_password')}#{accounts.reset_token(user)}"


def send_registration(user: User, new: bool) -> None:
    """Tell the mailbox what registering did: choose a password, or: you have an account."""
    jobs.enqueue(REGISTRATION, user_id=user.id, new=new)


def send_password_reset(user: User) -> None:
    jobs.enqueue(PASSWORD_RESET, user_id=user.id)


def send_verification(user: User) -> None:
    jobs.enqueue(VERIFICATION, user_id=user.id)


def _user(job: JobRun) -> User:
    user = db.session.get(User, job.payload["user_id"])
    if user is None:
        raise LookupError("the user is gone")
    return user


@jobs.handler(REGISTRATION)
def _registration(job: JobRun) -> None:
    user = _user(job)
    with force_language(user.language):
        message = _registration_message(job, user)
    end_reading()
    mail.deliver(message)


def _registration_message(job: JobRun, user: User):
    if job.payload.get("new"):
        return build(
            user.email, _("Choose a password for your account"), "finish_registration",
            message_id=jobs.message_id(job),
            link=password_link(user), minutes=accounts.RESET_MINUTES,
        )  # fmt: skip
    return build(
        user.email, _("Someone tried to register with your address"), "already_registered",
        message_id=jobs.message_id(job),
        sign_in_link=public_url("accounts.login"),
        forgot_link=public_url("accounts.forgot_password"),
    )  # fmt: skip


@jobs.handler(PASSWORD_RESET)
def _password_reset(job: JobRun) -> None:
    user = _user(job)
    if not user.active:
        return  # closed since it was asked for: no link to an account that cannot sign in
    with force_language(user.language):  # staff read it in the language they chose
        message = build(
            user.email, _("Reset your password"), "password_reset",
            message_id=jobs.message_id(job),
            minutes=accounts.RESET_MINUTES, link=password_link(user),
        )  # fmt: skip
    end_reading()
    mail.deliver(message)


@jobs.handler(VERIFICATION)
def _verification(job: JobRun) -> None:
    user = _user(job)
    if user.email_verified_at is not None:
        return  # confirmed meanwhile (an earlier link): nothing left to confirm
    with force_language(user.language):
        message = build(
            user.email, _("Confirm your email address"), "verify_email",
            message_id=jobs.message_id(job), email=user.email,
            link=public_url("accounts.verify", token=accounts.verification_token(user)),
        )  # fmt: skip
    end_reading()
    mail.deliver(message)
