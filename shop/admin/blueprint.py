"""The admin back office under /admin/: one blueprint, guarded once for every route
(shop.accounts.guards): anonymous visitors are sent to sign in, anyone without the
admin role gets 403.

Each kind of page lives in its own module (dashboard, orders, stock and batches,
catalog); views stay thin: the money and stock rules are the domain services'.
"""

from __future__ import annotations

from flask import Blueprint

from shop.accounts.guards import role_guard
from shop.accounts.models import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(role_guard(Role.ADMIN))

PER_PAGE = 30
LOW_STOCK = 3
