"""Signing in and out, the customer's account page, confirming an address, claiming
guest orders. Registration and passwords are in password_views."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import InputRequired, Length

from shop.accounts import services as accounts
from shop.accounts import sign_in_limits as limits
from shop.accounts.emails import send_verification
from shop.accounts.models import Role, User
from shop.accounts.services import authenticate
from shop.extensions import db, login_manager
from shop.orders.cart import CHECKOUT_KEY
from shop.orders.cart import SESSION_KEY as CART_KEY
from shop.orders.unpaid import PREFILL_KEY
from shop.orders.unpaid import SESSION_KEY as UNPAID_ORDER_KEY
from shop.rate_limits import limited_per_address
from shop.unit_of_work import abandon
from shop.web import page_number, safe_next

bp = Blueprint("accounts", __name__)

SIGN_IN_FAILED = _l("That email and password do not match an account.")
# "<user id>.<session version>" (User.get_id); a bare id is a session from before
# versions existed, which counts as version 1.
SESSION_USER_ID = re.compile(r"(\d{1,18})(?:\.(\d{1,9}))?", re.ASCII)


def init_login(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see that page.")
    login_manager.localize_callback = str  # the lazy message, in the reader's language
    login_manager.login_message_category = "error"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user, unless its session version was bumped since it signed in."""
    found = SESSION_USER_ID.fullmatch(user_id or "")
    if found is None:
        return None
    user = (
        db.session.scalars(
            select(User).where(User.id == int(found[1])).options(joinedload(User.roles))
        )
        .unique()
        .one_or_none()
    )
    if user is None or user.session_version != int(found[2] or 1):
        return None
    return user


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1024)])
    next = HiddenField()


@bp.route("/login", methods=["GET", "POST"])
# Failed attempts only are counted; once over a limit, the attempt is refused before the
# password is checked at all. See sign_in_limits for who is counted how.
@limits.limited
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            sign_in(user)  # a new session: only the cart and its checkout key survive
            flash(_("You are signed in."), "success")
            response = redirect(safe_next(form.next.data) or _home_for(user))
            limits.remember_sign_in(user.id, response)
            return response
        flash(str(SIGN_IN_FAILED), "error")
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
    if current_user.is_authenticated:
        # Signing out here signs out everywhere: a copied cookie is worthless from now on.
        accounts.end_sessions(current_user)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "success")
    return redirect(url_for("catalog.home"))


def sign_in(user: User) -> None:
    kept = {
        k: session[k]
        for k in (CART_KEY, CHECKOUT_KEY, UNPAID_ORDER_KEY, PREFILL_KEY)
        if session.get(k)
    }
    session.clear()
    session.update(kept)  # the cart, the key its unpaid orders carry, the one it placed
    login_user(user)


@bp.get("/account")
@login_required
def account():
    from shop.accounts.password_views import PasswordForm
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
        abandon()
        flash(str(exc), "error")
        return redirect(url_for("accounts.account"))
    flash(
        ngettext(
            "%(num)d order(s) added to your account.",
            "%(num)d order(s) added to your account.",
            claimed,
        ),
        "success",
    )
    return redirect(url_for("accounts.account"))


@bp.post("/account/verify")
@login_required
@limited_per_address("5 per hour", "verification-email", _l("new confirmation emails"))
def resend_verification():
    if current_user.email_verified_at is None:
        send_verification(current_user)
    flash(_("We sent you a new link to confirm your email address."), "success")
    return redirect(url_for("accounts.account"))


@bp.get("/verify/<token>")
def verify(token: str):
    if not current_user.is_authenticated:
        # The link alone proves the mailbox, not the password: the account's owner signs
        # in first (and then comes back here).
        flash(_("Please sign in to confirm your email address. If you did not create an "
                "account with us, you can ignore that email."), "error")  # fmt: skip
        return redirect(url_for("accounts.login", next=url_for("accounts.verify", token=token)))
    if not accounts.verify_email(token, current_user):
        flash(_("That confirmation link is invalid, has expired or is for another account; "
                "ask for a new one below."), "error")  # fmt: skip
        return redirect(url_for("accounts.account"))
    flash(_("Your email address is confirmed."), "success")
    return redirect(url_for("accounts.account"))
