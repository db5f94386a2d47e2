"""The /staff/ blueprint, shared by the training and provenance back-office views.

Guarded once for every route: anonymous visitors are sent to sign in, anyone
without the staff role (admins included) gets 403.
"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from shop.accounts.models import Role
from shop.extensions import login_manager

staff = Blueprint("staff", __name__, url_prefix="/staff")


@staff.before_request
def _staff_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.has_role(Role.STAFF):
        abort(403)
    return None
