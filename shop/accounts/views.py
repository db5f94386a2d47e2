"""Signing in and out, and the role checks every back-office route uses."""

from __future__ import annotations

import functools
import hashlib
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from shop.accounts import services as accounts
from shop.accounts.models import Role, User
from shop.accounts.services import authenticate
from shop.extensions import db, limiter, login_manager
from shop.mail import build, send_safely
from shop.orders.cart import SESSION_KEY as CART_KEY
from shop.web import page_number

bp = Blueprint("accounts", __name__)

SIGN_IN_FAILED = "That email and password do not match an account."


def init_login(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "error"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    return (
        db.session.scalars(
            select(User).where(User.id == int(user_id)).options(joinedload(User.roles))
        )
        .unique()
        .one_or_none()
    )


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
    ):
        return None
    if any(ch in target for ch in "\\\r\n\t"):
        return None
    return target


def role_required(role: Role):
    """Anonymous visitors are sent to sign in; signed-in users without `role` get 403."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])
    next = HiddenField()


SIGN_IN_LIMIT = "10 per minute"


def _failed_sign_in(response) -> bool:
    return response.status_code == 401


def _submitted_account() -> str:
    """The account being tried, so one account is protected from many addresses too.
    Hashed: the limiter's counters and log lines never hold an email address."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:24]


@bp.route("/login", methods=["GET", "POST"])
# Failed attempts only are counted; the eleventh in a minute is refused before the
# password is checked at all. Counters live in RATELIMIT_STORAGE_URI (Redis when shared).
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"], deduct_when=_failed_sign_in)
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"], deduct_when=_failed_sign_in,
               key_func=_submitted_account)  # fmt: skip
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            _sign_in(user)  # a new session: nothing fixed before it survives but the cart
            flash("You are signed in.", "success")
            return redirect(safe_next(form.next.data) or _home_for(user))
        flash(SIGN_IN_FAILED, "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("accounts/login.html", form=form), status


def _home_for(user: User) -> str:
    if user.has_role(Role.ADMIN):
        return url_for("admin.dashboard")
    if user.has_role(Role.STAFF):
        return url_for("staff.trainees")
    return url_for("accounts.account")


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("catalog.home"))


def _sign_in(user: User) -> None:
    cart = session.get(CART_KEY)
    session.clear()
    if cart:
        session[CART_KEY] = cart
    login_user(user)


class RegisterForm(FlaskForm):
    name = StringField("Your name", validators=[Optional(), Length(max=120)])
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=1024,
                                message=f"The password must have at least {accounts.MIN_PASSWORD_LENGTH} characters.")]
    )  # fmt: skip
    confirm = PasswordField(
        "Password again", validators=[InputRequired(), EqualTo("password", "The passwords differ.")]
    )


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.create_user(form.email.data, form.password.data, {Role.CUSTOMER},
                                        name=form.name.data or "")  # fmt: skip
        except accounts.AccountError as exc:
            form.email.errors.append(str(exc))
            status = 400
        else:
            message = _verification_message(user)
            db.session.commit()
            send_safely(message, "an email verification")
            _sign_in(user)
            flash("Welcome! We sent you a link to confirm your email address.", "success")
            return redirect(url_for("accounts.account"))
    elif request.method == "POST":
        status = 400
    return render_template("accounts/register.html", form=form), status


def _verification_message(user: User):
    return build(
        user.email, "Confirm your email address", "verify_email", email=user.email,
        link=url_for("accounts.verify", token=accounts.verification_token(user), _external=True),
    )  # fmt: skip


@bp.get("/account")
@login_required
def account():
    from shop.orders.models import Order

    page = page_number()
    orders = db.session.scalars(
        select(Order)
        .where(Order.user_id == current_user.id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(20)
        .offset((page - 1) * 20)
    ).all()
    return render_template(
        "accounts/account.html", orders=orders, page=page,
        claimable=accounts.claimable_orders(current_user), password_form=PasswordForm(),
    )  # fmt: skip


@bp.post("/account/claim")
@login_required
def claim():
    try:
        claimed = accounts.claim_orders(current_user)
    except accounts.AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.account"))
    db.session.commit()
    flash(f"{claimed} order(s) added to your account.", "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/verify")
@login_required
@limiter.limit("5 per hour")
def resend_verification():
    if current_user.email_verified_at is None:
        send_safely(_verification_message(current_user), "an email verification")
    flash("We sent you a new link to confirm your email address.", "success")
    return redirect(url_for("accounts.account"))


@bp.get("/verify/<token>")
def verify(token: str):
    user = accounts.verify_email(token)
    if user is None:
        flash(
            "That confirmation link is invalid or has expired; ask for a new one from your account.",
            "error",
        )
        return redirect(url_for("accounts.login"))
    claimed = accounts.claim_orders(user)
    db.session.commit()
    flash(f"Your email address is confirmed. {claimed} earlier order(s) added to your account."
          if claimed else "Your email address is confirmed.", "success")  # fmt: skip
    return redirect(
        url_for("accounts.account" if current_user.is_authenticated else "accounts.login")
    )


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=1024)])
    password = PasswordField("New password", validators=[InputRequired(), Length(max=1024)])
    confirm = PasswordField(
        "New password again",
        validators=[InputRequired(), EqualTo("password", "The passwords differ.")],
    )


@bp.post("/account/password")
@login_required
@limiter.limit(SIGN_IN_LIMIT, deduct_when=_failed_sign_in)
def change_password():
    form = PasswordForm()
    if form.validate_on_submit() and current_user.check_password(form.current.data):
        try:
            accounts.change_password(current_user, form.password.data)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
            return account(), 400
        db.session.commit()
        _sign_in(current_user)  # a new session: any other copy of the old one is worthless
        flash("Your password is changed.", "success")
        return redirect(url_for("accounts.account"))
    flash("The current password is wrong, or the new passwords differ.", "error")
    return account(), 401


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(), Length(max=1024)])
    confirm = PasswordField(
        "New password again",
        validators=[InputRequired(), EqualTo("password", "The passwords differ.")],
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        user = accounts.user_by_email(form.email.data.strip())
        if user is not None and user.active:
            message = build(
                user.email, "Reset your password", "password_reset", minutes=accounts.RESET_MINUTES,
                link=url_for("accounts.reset_password", token=accounts.reset_token(user), _external=True),
            )  # fmt: skip
            send_safely(message, "a password reset")
        # The same answer whether or not there is an account: nobody learns who shops here.
        flash(
            "If there is an account for that address, we sent it a link to choose a new password.",
            "success",
        )
        return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/forgot.html", form=form
    ), 400 if request.method == "POST" else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = accounts.user_for_reset_token(token)
    if user is None:
        flash("That link is invalid, has expired or was already used; ask for a new one.", "error")
        return redirect(url_for("accounts.forgot_password"))
    form = ResetForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.change_password(user, form.password.data)
        except accounts.AccountError as exc:
            form.password.errors.append(str(exc))
            status = 400
        else:
            db.session.commit()
            flash("Your password is changed; please sign in.", "success")
            return redirect(url_for("accounts.login"))
    elif request.method == "POST":
        status = 400
    return render_template("accounts/reset.html", form=form, token=token), status
