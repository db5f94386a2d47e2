"""Cart, checkout, the buyer's order page, the pay page and the Stripe webhook.

Views are thin: they read the request and call one service; the request's unit of
work commits (shop/unit_of_work.py), and email goes only after that commit.
"""

from __future__ import annotations

import json
import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from shop.catalog import product_page, storefront
from shop.catalog.views import product_with_problem
from shop.database import begin_writing
from shop.extensions import csrf, db
from shop.orders import addresses, checkout_form, gateway_events, gateways, payments, shares, unpaid
from shop.orders import cart as carts
from shop.orders import checkout as checkout_service
from shop.orders.gateways import DummyGateway, GatewayError, StripeGateway, gateway
from shop.orders.models import Order, OrderStatus, RefundStatus
from shop.orders.notifications import confirm_after_commit, payment_waiting_after_commit
from shop.orders.receipt import receipt
from shop.orders.states import PAID_STATES
from shop.rate_limits import Counter, client_digest, counted, digest
from shop.transparency.receipts import index_ranges, sale_share_indices
from shop.unit_of_work import abandon, keep_on_refusal
from shop.web import whole_number

log = logging.getLogger("shop.orders")
bp = Blueprint("orders", __name__)
bp.add_app_template_global(receipt, "order_receipt")  # the order page and receipt emails


# An address's lines in its country's format, for every template (pages, emails, slips).
bp.add_app_template_global(addresses.address_lines, "address_lines")


def _store_currency() -> str:
    return current_app.config["STORE_CURRENCY"]


def _variant_id() -> int:
    return whole_number(request.form.get("variant_id"), minimum=1) or abort(400)


@bp.post("/cart/add")
def cart_add():
    back = request.form.get("product_slug", "")
    typed = request.form.get("quantity", "1")
    # The product page sends the options chosen ("option.size"), or the variant itself.
    chosen = product_page.chosen_options(request.form) if "variant_id" not in request.form else {}
    variant_id, field = None, "options"
    try:
        if chosen:
            variant_id = storefront.variant_id_for_choice(back, chosen)
            if variant_id is None:
                raise carts.CartError(_("We don't make that combination. Please choose another."))
        else:
            variant_id = _variant_id()
        field = "quantity"
        quantity = carts.parse_quantity(typed)
        variant = carts.add(session, variant_id, quantity)
    except carts.CartError as exc:
        abandon()
        if not back:
            flash(str(exc), "error")
            return redirect(url_for("orders.cart"))
        # The page again, the problem beside its field and what was typed kept.
        attempt = product_page.AddAttempt(
            str(exc), field, typed[: product_page.TYPED_KEEP], chosen, variant_id
        )
        return product_with_problem(back, attempt), 422
    flash(
        _("Added %(quantity)s × %(product)s to your cart.", quantity=quantity,
          product=variant.product.name),
        "success",
    )  # fmt: skip
    return redirect(url_for("orders.cart"))


@bp.post("/cart/update")
def cart_update():
    variant_id = _variant_id()
    try:
        carts.set_quantity(session, variant_id, carts.parse_quantity(request.form.get("quantity")))
    except carts.CartError as exc:
        abandon()
        flash(str(exc), "error")
    return redirect(url_for("orders.cart"))


@bp.post("/cart/remove")
def cart_remove():
    carts.remove(session, _variant_id())
    flash(_("Removed from your cart."), "success")
    return redirect(url_for("orders.cart"))


@bp.get("/cart")
def cart():
    priced = carts.price(session, _store_currency())
    for message in priced.messages:
        flash(message, "error")
    return render_template("orders/cart.html", cart=priced, unpaid=unpaid.remembered(session))


def _checkout_counters() -> list[Counter]:
    """Per address and per browser session (its checkout key; a client that drops
    cookies meets the per-address limit). Keyed by digests: the checkout key finds a
    session's open orders, so it must not sit in the counters' storage in clear."""
    session_digest = digest("checkout-session|" + carts.checkout_key(session))
    return [
        (current_app.config["CHECKOUT_LIMIT_PER_ADDRESS"], "checkout-address:" + client_digest()),
        (current_app.config["CHECKOUT_LIMIT_PER_SESSION"], "checkout-session:" + session_digest),
    ]


def _order_placed(response) -> bool:
    return response.status_code == 302 and "/pay" in response.location


def _too_many_checkouts():
    return make_response(render_template(
        "error.html", code=429, title=_("Too many checkouts"),
        message=_("Too many orders were started from here in a short time, so this one was "
                  "not placed and nothing is held. If you left an order unpaid, you can still "
                  "pay for it from its page; otherwise please try again later."),
    ), 429)  # fmt: skip


@bp.route("/checkout", methods=["GET", "POST"])
# Orders placed count (a form sent back with mistakes does not), limits from
# CHECKOUT_LIMIT_PER_*; each checkout takes its slot before placing (shop.rate_limits).
@counted(_checkout_counters, counts=_order_placed, action=_l("orders"), refused=_too_many_checkouts)
def checkout():
    if not carts.read(session):
        # The cart page says it is empty (or offers the unpaid order, for a buyer Back
        # from the pay page): said once, not flashed above it as well.
        return redirect(url_for("orders.cart"))
    methods = checkout_service.shipping_methods()
    known = {}
    if request.method == "GET":  # the order being changed, else a customer's last address
        known = unpaid.checkout_details(session) or checkout_form.prefill()
    country = checkout_form.country_for(known)
    form = checkout_form.build(country, methods, known)
    status, problems, redrawn = 200, [], False
    if request.method == "POST" and checkout_form.redraw(form):
        # The country changed since its fields were drawn: the same form with its fields.
        redrawn = not request.form.get("update_fields")
    elif request.method == "POST":
        valid = form.validate_on_submit()
        address = checkout_form.checked_address(form, country)
        status = 400
        if valid and address is not None:
            order_or_problem = _place(form, address)
            if isinstance(order_or_problem, str):
                problems, status = [(order_or_problem, url_for("orders.cart"))], 409
            else:
                carts.clear(session)
                unpaid.placed(session, order_or_problem)
                payment_waiting_after_commit(order_or_problem)
                return redirect(url_for("orders.pay", token=order_or_problem.token))
    priced = carts.price(session, _store_currency())
    page = render_template(
        "orders/checkout.html", form=form, cart=priced, problems=problems, redrawn=redrawn,
        waiting=unpaid.waiting_at_checkout(session),  # placing this order may cancel it
    )  # fmt: skip
    return page, status


def _place(form, address: dict[str, str]) -> Order | str:
    """The order placed from a form that passed every check, or why it was not (the
    request's work is then undone: nothing is written)."""
    buyer = checkout_service.BuyerDetails(
        email=form.email.data.strip(), name=form.name.data.strip(),
        country_code=form.country.data, shipping_method=form.shipping_method.data, **address,
    )  # fmt: skip
    try:
        return checkout_service.place_order(
            session, buyer, gateway_name=gateway().name, currency=_store_currency(),
            user_id=current_user.id if current_user.is_authenticated else None,
            client=client_digest(),
        )  # fmt: skip
    except checkout_service.CheckoutError as exc:
        abandon()
        return str(exc)


def _order_or_404(token: str, *, for_payment: bool = False) -> Order:
    order = checkout_service.order_by_token(token, for_payment=for_payment)
    if order is None:
        abort(404)
    return order


@bp.get("/orders/<token>")
def order(token: str):
    found = _order_or_404(token)
    # What went to training accounts is told per workshop while the sale stands; once
    # money went back, also what the refunds took back (refunded in full: all of it).
    paid = found.status in PAID_STATES
    refunded = paid and found.refunded_amount > 0
    page = render_template(
        "orders/order.html",
        order=found,
        share=shares.share_for_training(found),
        shares=shares.training_shares(found)
        if paid and found.refund_status != RefundStatus.FULL
        else [],
        after_refunds=shares.share_after_refunds(found) if refunded else None,
        # Where anyone can check the shares in the public log: entries, never whose.
        log_ranges=index_ranges(sale_share_indices(line.id for line in found.lines))
        if paid
        else [],
    )
    # It shows where the buyer lives: never kept by a cache on the way, nor on disk.
    return page, {"Cache-Control": "private, no-store"}


@bp.route("/orders/<token>/pay", methods=["GET", "POST"])
def pay(token: str):
    found = _order_or_404(token, for_payment=True)
    if found.status != OrderStatus.PENDING_PAYMENT:
        return _not_payable(found)
    if payments.suspended_lines(found):
        return _cancel_unsellable(token)
    active = gateway()
    if isinstance(active, StripeGateway):
        return _pay_with_stripe(found, active)
    return _pay_with_dummy(found, active)


def _not_payable(found: Order):
    """The pay page of an order that can no longer be paid (an old tab, the emailed
    link): say why, plainly."""
    if found.status in PAID_STATES:
        unpaid.forget(session, found.token)
        flash(_("Order %(number)s is paid already: thank you.", number=found.number), "success")
        return redirect(url_for("orders.order", token=found.token))
    if request.method == "POST":  # a card sent from an old tab: the page below says why
        return redirect(url_for("orders.pay", token=found.token))
    return render_template(
        "orders/payment_closed.html", order=found, message=unpaid.closed_message(found)
    )


def _cancel_unsellable(token: str):
    """A line can no longer be sold: the order is cancelled (on a GET too: writing)."""
    db.session.rollback()
    begin_writing()
    found = _order_or_404(token, for_payment=True)
    if found.status == OrderStatus.PENDING_PAYMENT:
        try:
            payments.refuse_unsellable(found)
        except payments.PaymentRefused as exc:
            flash(str(exc), "error")
    return redirect(url_for("orders.order", token=token))


def _pay_with_dummy(found: Order, dummy: DummyGateway):
    status = 200
    if request.method == "POST":
        payment = payments.start_payment(found, dummy)
        event = dummy.charge(
            reference=payment.reference,
            card_number=request.form.get("card_number", ""),
            amount=found.total,
            currency=found.currency,
        )
        if event.kind == "payment_succeeded":
            payments.payment_succeeded(
                found,
                gateway_name=dummy.name,
                reference=event.reference,
                amount=event.amount,
                currency=event.currency,
            )
            confirm_after_commit(found)
            unpaid.forget(session, found.token)
            flash(_("Thank you: your payment went through."), "success")
            return redirect(url_for("orders.order", token=found.token))
        payments.payment_failed(found, reason=event.failure)
        keep_on_refusal()  # the declined attempt is on record
        # Told beside the card field (role="alert"), where the buyer types another card.
        return render_template(
            "orders/pay_dummy.html", order=found, card_error=event.failure, **_details(found)
        ), 402
    return render_template("orders/pay_dummy.html", order=found, **_details(found)), status


def _details(found: Order) -> dict:
    """What the pay page shows of the order's details, beside its Change button."""
    return {"shipping_label": checkout_service.shipping_label(found.shipping_method)}


def _pay_with_stripe(found: Order, stripe_gateway: StripeGateway):
    payment = payments.pending_payment(found)
    if payment is None:
        token, amounts = found.token, (found.id, found.number, found.total, found.currency)
        # Stripe is called with no transaction open: no row lock or write lock waits on it.
        db.session.rollback()
        try:
            started = stripe_gateway.start_payment(
                order_id=amounts[0], number=amounts[1], amount=amounts[2], currency=amounts[3]
            )
        except GatewayError as exc:
            flash(str(exc), "error")
            return render_template("orders/pay_unavailable.html", order=_order_or_404(token)), 503
        begin_writing()
        found = _order_or_404(token, for_payment=True)
        if found.status != OrderStatus.PENDING_PAYMENT:
            return redirect(url_for("orders.order", token=token))
        payment = payments.record_started_payment(found, stripe_gateway.name, started)
    return render_template(
        "orders/pay_stripe.html",
        order=found,
        client_secret=payment.client_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
        **_details(found),
    )


@bp.post("/stripe/webhook")
@csrf.exempt  # guarded by the Stripe signature instead
def stripe_webhook():
    active = gateway()
    if not isinstance(active, StripeGateway):
        abort(404)
    payload = request.get_data()
    if not is_event_object(payload):
        return {"error": "not an event object"}, 400
    try:
        event = active.parse_webhook(payload, request.headers.get("Stripe-Signature"))
    except gateways.MalformedEvent as exc:
        return {"error": str(exc)}, 400
    except ValueError:
        return {"error": "bad signature"}, 400
    # Stripe asks for a quick 2xx: the event is recorded by its id (a repeat is known
    # at once) with a job that applies it, and the worker does the rest.
    job_id = gateway_events.accept(active.name, event)
    return {"received": True, "event": event.id, "duplicate": job_id is None}


def is_event_object(payload: bytes) -> bool:
    """Whether a webhook body has the shape of a Stripe event: a JSON object with an id, a
    type and data.object. A body that is well signed but not that (an array, null, no
    data) is refused with a 400 before anything reads it, like a bad signature."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested absurdly deep
        return False
    return (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    )
