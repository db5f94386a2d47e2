"""Registration and passwords: registering, forgetting, resetting and changing one.

Emailed password links carry their token after '#': browsers never send that part, so
it stays out of access logs (werkzeug's, gunicorn's, a proxy's) and Referer headers.
The page's script moves it into the form; without JavaScript it can be pasted.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from shop.accounts import services as accounts
from shop.accounts import sign_in_limits as limits
from shop.accounts.emails import send_password_reset, send_registration
from shop.accounts.mailbox_limits import may_email
from shop.accounts.views import account, bp, sign_in
from shop.rate_limits import limited_per_address
from shop.unit_of_work import abandon


class RegisterForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[Optional(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])


@bp.route("/register", methods=["GET", "POST"])
@limited_per_address("20 per hour", "register", _l("new accounts"))
def register():
    """The same answer, page and status whether or not the address has an account: the
    mailbox is told which it is (choose a password, or: you already have an account)."""
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            outcome = accounts.register(form.email.data, form.name.data or "")
        except accounts.AccountError as exc:
            form.email.errors.append(str(exc))
            status = 400
        else:
            address = outcome.user.email
            if not may_email(address):
                # The mailbox had its share this hour: the same answer, nothing made or sent.
                abandon()
                return render_template("accounts/register_sent.html", email=address)
            send_registration(outcome.user, outcome.new)
            return render_template("accounts/register_sent.html", email=address)
    elif request.method == "POST":
        status = 400
    return render_template("accounts/register.html", form=form), status


class ForgotForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    token = StringField(_l("Code from the emailed link (the part after #)"),
                        validators=[InputRequired(), Length(max=512)])  # fmt: skip
    password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=1024)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("password", _l("The passwords differ."))],
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limited_per_address("5 per hour", "password-reset", _l("password reset requests"))
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        user = accounts.user_by_email(form.email.data.strip())
        if user is not None and user.active and may_email(user.email):
            send_password_reset(user)
        # The same answer whether or not there is an account, and whether or not its mailbox
        # had its share of emails this hour: nobody learns who shops here.
        flash(
            _(
                "If there is an account for that address, we sent it a link to choose a new password."
            ),
            "success",
        )
        return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/forgot.html", form=form
    ), 400 if request.method == "POST" else 200


@bp.route("/password/reset", methods=["GET", "POST"])
def reset_password():
    form = ResetForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.set_password_from_link(form.token.data.strip(), form.password.data)
        except accounts.AccountError as exc:
            form.password.errors.append(str(exc))
            status = 400
        else:
            if user is None:
                flash(_("That link is invalid, has expired or was already used; ask for a new one."),
                      "error")  # fmt: skip
                return redirect(url_for("accounts.forgot_password"))
            flash(_("Your password is changed; please sign in."), "success")
            return redirect(url_for("accounts.login"))
    elif request.method == "POST":
        status = 400
    return render_template("accounts/reset.html", form=form), status


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[InputRequired(), Length(max=1024)])
    password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=1024)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("password", _l("The passwords differ."))],
    )


@bp.post("/account/password")
@login_required
@limits.password_change_limited
def change_password():
    form = PasswordForm()
    if form.validate_on_submit() and current_user.check_password(form.current.data):
        try:
            accounts.change_password(current_user, form.password.data)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
            return account(), 400
        # This session goes on under the new version; all others end. The user itself, not
        # the proxy: a proxy stored as the session's user would resolve to itself.
        sign_in(current_user._get_current_object())
        flash(_("Your password is changed."), "success")
        return redirect(url_for("accounts.account"))
    flash(_("The current password is wrong, or the new passwords differ."), "error")
    return account(), 401
