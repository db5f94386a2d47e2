"""Change details: the button on the cart page and the pay page that takes an unpaid
order back to the checkout (shop.orders.unpaid says what it does)."""

from __future__ import annotations

from flask import abort, flash, redirect, session, url_for
from flask_babel import gettext as _

from shop.database import begin_writing
from shop.extensions import db
from shop.orders import checkout as checkout_service
from shop.orders import unpaid
from shop.orders.gateways import GatewayError, gateway
from shop.orders.models import Order, OrderStatus
from shop.orders.views import bp


def _locked(token: str) -> Order:
    found = checkout_service.order_by_token(token, for_payment=True)
    if found is None:
        abort(404)
    return found


@bp.post("/orders/<token>/change")
def change_details(token: str):
    found = _locked(token)
    stopped: list[str] = []
    started = unpaid.started_payments(found) if found.status == OrderStatus.PENDING_PAYMENT else []
    if started:
        # Stop them at the gateway first, with no transaction open (no lock waits on
        # it); only a payment it stopped can no longer take money.
        db.session.rollback()
        try:
            stopped = [ref for ref in started if gateway().cancel_payment(reference=ref)]
        except GatewayError:
            flash(_("The payment service is not answering, so your order was not changed. "
                    "Please try again in a moment."), "error")  # fmt: skip
            return redirect(url_for("orders.pay", token=token))
        begin_writing()
        found = _locked(token)
    try:
        unpaid.reopen(session, found, stopped)
    except unpaid.ChangeRefused as exc:
        flash(str(exc), "error")
        still_open = found.status == OrderStatus.PENDING_PAYMENT
        return redirect(url_for("orders.pay" if still_open else "orders.order", token=token))
    flash(_("Order %(number)s is cancelled and its items are back in your cart: change "
            "what you need and place the order again.", number=found.number), "success")  # fmt: skip
    return redirect(url_for("orders.checkout"))
