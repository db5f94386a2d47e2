"""Signing in and out, and the role checks every back-office route uses."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import InputRequired, Length

from shop.accounts.models import Role, User
from shop.accounts.services import authenticate
from shop.extensions import db, login_manager
from shop.orders.cart import SESSION_KEY as CART_KEY

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


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            cart = session.get(CART_KEY)
            session.clear()  # a new session at sign-in: nothing fixed before it survives
            if cart:
                session[CART_KEY] = cart  # but the guest's cart does
            login_user(user)
            flash("You are signed in.", "success")
            return redirect(safe_next(form.next.data) or _home_for(user))
        flash(SIGN_IN_FAILED, "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("accounts/login.html", form=form), status


def _home_for(user: User) -> str:
    if user.has_role(Role.STAFF):
        return url_for("staff.trainees")
    return url_for("catalog.home")


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("catalog.home"))
