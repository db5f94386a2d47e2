"""Helpers of the migration tests: rows written at an older revision, in SQL (the models
carry later columns), and whether the database refuses one."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from shop.extensions import db


def refused(statement, values) -> bool:
    """Whether the database refuses `statement` (a constraint), leaving nothing behind."""
    try:
        with db.session.begin_nested():
            db.session.execute(statement, values)
    except DBAPIError:
        return True
    return False
