"""The one role check of the back office: each blueprint installs it for all its routes."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort
from flask_login import current_user

from shop.accounts.models import Role
from shop.extensions import login_manager


def role_guard(role: Role) -> Callable[[], object]:
    """A `before_request` hook: anonymous visitors are sent to sign in, signed-in users
    without `role` get 403 (admins hold no staff rights, nor staff admin rights)."""

    def guard():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.has_role(role):
            abort(403)
        return None

    guard.__name__ = f"{role.value}_only"
    return guard
