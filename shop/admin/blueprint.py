"""The admin back office under /admin/: one blueprint, guarded once.

Anonymous visitors are sent to sign in, anyone without the admin role gets 403.
Each kind of page lives in its own module (dashboard, orders, stock and batches,
catalog); views stay thin: the money and stock rules are the domain services'.
"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from shop.accounts.models import Role
from shop.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 30
LOW_STOCK = 3


@bp.before_request
def _admins_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.has_role(Role.ADMIN):
        abort(403)
    return None
