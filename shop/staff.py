"""The /staff/ blueprint, shared by the training and provenance back-office views.

Guarded once for every route (shop.accounts.guards): anonymous visitors are sent to
sign in, anyone without the staff role (admins included) gets 403.
"""

from __future__ import annotations

from flask import Blueprint

from shop.accounts.guards import role_guard
from shop.accounts.models import Role

staff = Blueprint("staff", __name__, url_prefix="/staff")
staff.before_request(role_guard(Role.STAFF))
