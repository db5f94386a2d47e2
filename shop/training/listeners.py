"""The training package listens to what orders announce; it never reaches into orders."""

from __future__ import annotations

from flask import Flask

from shop.orders import signals
from shop.training import reversals, services


def _on_order_paid(_sender, event: signals.PaidOrder, **_) -> None:
    services.credit_sale_shares(event)


def _on_line_refunded(_sender, event: signals.RefundedLine, **_) -> None:
    reversals.reverse_for_refund(event)


def _on_line_refund_undone(_sender, event: signals.RefundedLine, **_) -> None:
    reversals.undo_for_failed_refund(event)


def init_training(app: Flask) -> None:
    from shop.extensions import db
    from shop.training.ledger import open_accounts_with_owners

    signals.order_paid.connect(_on_order_paid, sender=app)
    signals.order_line_refunded.connect(_on_line_refunded, sender=app)
    signals.order_line_refund_undone.connect(_on_line_refund_undone, sender=app)
    with app.app_context():
        open_accounts_with_owners(db.session.session_factory.class_)
