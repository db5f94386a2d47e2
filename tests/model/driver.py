"""The store side of the model test: one thin driver over the real routes and services.

Every operation is one method that calls one route (through the test client, as a
shopper, admin or staff member would) or one service or command. Nothing here knows
the model's rules; it only says what the store answered and, in `read()`, what the
store now holds. When the store's APIs change (on_hand/reserved instead of `stock`,
a shipping fact beside the refund status, the Stripe refund events, checkout caps)
this is the one file to adapt.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from shop.accounts.models import User
from shop.catalog.models import Product, Variant
from shop.extensions import db
from shop.orders.gateway_events import apply_gateway_event
from shop.orders.gateways import StripeGateway, gateway
from shop.orders.models import (
    Order,
    OrderStatus,
)
from shop.provenance.models import Batch
from shop.training import services as training
from shop.training.ledger import LedgerError
from shop.training.models import CorrectionRequest, LedgerAccount, Withdrawal
from shop.unit_of_work import unit_of_work
from tests import factories as f
from tests.confirming import confirmed
from tests.conftest import client_as
from tests.model.harness import Clock, Interleaving, fresh, store_settings
from tests.model.store_state import StoreState, read_state
from tests.orders.conftest import WEBHOOK_SECRET, sign

PAYING_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
BUYER_FORM = {
    "email": "buyer@example.com", "name": "Ana Buyer", "address_line1": "1 Road",
    "city": "Lyon", "postal_code": "69001", "country": "FR", "shipping_method": "standard",
}  # fmt: skip


def major(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True)
class PlacedLine:
    id: int
    variant_id: int
    sku: str
    quantity: int
    line_total: int
    bps: int
    workshop_id: int


@dataclass(frozen=True)
class PlacedOrder:
    id: int
    token: str
    number: str
    total: int
    shipping: int
    reference: str  # filled in once paid: the payment's gateway reference
    lines: tuple[PlacedLine, ...]


class StoreDriver:
    def __init__(self, app):
        self.app = app
        self.clock = Clock()
        self.outbox = tempfile.mkdtemp(prefix="model-outbox-")
        self._saved_config = {k: app.config.get(k) for k in ("MAIL_OUTBOX",)}
        app.config["MAIL_OUTBOX"] = self.outbox
        self.stripe = StripeGateway("sk_test_model", WEBHOOK_SECRET, "http://127.0.0.1:9")
        self.buyers: list = []
        self.staff: list = []
        self.admin = None
        self._event_ids = 0

    def close(self) -> None:
        self.clock.restore()
        self.app.config.update(self._saved_config)
        shutil.rmtree(self.outbox, ignore_errors=True)

    # --- setting up ------------------------------------------------------------------

    def set_up(self, products: list[dict], trainees_per_workshop: int, buyers: int) -> dict:
        """Two workshops with their trainees, the products (each {workshop, bps, prices}),
        an admin, two staff members and the buyers' sessions. Returns the ids."""
        with self.app.app_context():
            workshops = [f.workshop(), f.workshop()]
            trainees = {
                w.id: [(t.id, t.code) for t in (f.trainee(w) for _ in range(trainees_per_workshop))]
                for w in workshops
            }
            variants = []
            for spec in products:
                w = workshops[spec["workshop"]]
                p = f.product(w, variants=len(spec["prices"]), impact_share_bps=spec["bps"])
                for v, price in zip(p.variants, spec["prices"], strict=True):
                    v.price = price
                    variants.append(
                        {"id": v.id, "sku": v.sku, "product_id": p.id, "price": price,
                         "bps": spec["bps"], "workshop_id": w.id}
                    )  # fmt: skip
            db.session.commit()
            self.admin = client_as(self.app, "admin")
            self.staff = [client_as(self.app, "staff"), client_as(self.app, "staff")]
            self.staff_ids = [c.person.id for c in self.staff]
            accounts = {
                (("trainee", a.trainee_id) if a.trainee_id else ("pool", a.workshop_id)): a.id
                for a in db.session.scalars(select(LedgerAccount))
                if a.trainee_id or a.code.startswith("pool:")
            }
            ids = {
                "workshops": [w.id for w in workshops], "trainees": trainees,
                "variants": variants, "accounts": accounts,
            }  # fmt: skip
        self.buyers = [self.app.test_client() for _ in range(buyers)]
        return ids

    # --- helpers ------------------------------------------------------------------------

    def _flashes(self, client) -> list[tuple[str, str]]:
        """The messages the last response left for the next page, read from the session
        cookie (cheaper than opening a session transaction), then cleared."""
        cookie = client.get_cookie(self.app.config.get("SESSION_COOKIE_NAME", "session"))
        if cookie is None:
            return []
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        session = serializer.loads(cookie.value)
        flashes = session.pop("_flashes", [])
        if flashes:
            client.set_cookie(cookie.key, serializer.dumps(session), domain=cookie.domain,
                              path=cookie.path)  # fmt: skip
        return [tuple(f) for f in flashes]

    def _succeeded(self, client, response) -> bool:
        flashes = self._flashes(client)
        if response.status_code >= 500:
            raise AssertionError(f"the store answered {response.status_code}")
        return response.status_code in (200, 302) and not any(c == "error" for c, _ in flashes)

    def _cli(self, *args: str):
        runner = self.app.test_cli_runner()
        return fresh(lambda: runner.invoke(args=list(args)))

    # --- stock and batches (admin) --------------------------------------------------------

    def record_batch(
        self, *, code: str, workshop_id: int, sku: str, quantity: int, month: date,
        makers: list[tuple[str, int]],
    ) -> int | None:  # fmt: skip
        """The admin batch form; the new batch's id, or None when it was refused."""
        response = self.admin.post("/admin/batches/new", data={
            "code": code, "workshop": str(workshop_id), "sku": sku, "quantity": str(quantity),
            "produced_month": f"{month:%Y-%m}", "materials": "cotton",
            "makers": ";".join(f"{c}:{w}" for c, w in makers),
        })  # fmt: skip
        if not (self._succeeded(self.admin, response) and response.status_code == 302):
            return None
        with self.app.app_context():
            return db.session.scalar(select(Batch.id).where(Batch.code == code))

    def adjust_stock(self, variant_id: int, change: int, reason: str) -> bool:
        """An on-hand change (counted, lost, damaged, found), with its reason."""
        response = self.admin.post(
            f"/admin/stock/{variant_id}/adjust", data={"quantity": str(change), "reason": reason}
        )
        return self._succeeded(self.admin, response)

    def shown_on_hand(self, variant_id: int) -> int:
        """What the back office shows as the units on the shelf: the on_hand column of its
        stock export, as an admin reads it before a stocktake (not the database's column,
        so a page that shows available units as the shelf count is caught)."""
        with self.app.app_context():
            sku = db.session.scalar(select(Variant.sku).where(Variant.id == variant_id))
        response = self.admin.get("/admin/stock.csv")
        assert response.status_code == 200, f"the stock export answered {response.status_code}"
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        return int(next(row["on_hand"] for row in rows if row["sku"] == sku))

    def move_product(self, product_id: int, workshop_id: int) -> bool:
        with self.app.app_context():
            p = db.session.get(Product, product_id)
            form = {
                "name": p.name, "slug": p.slug, "description": p.description, "story": p.story,
                "category_id": str(p.category_id or 0), "workshop_id": str(workshop_id),
                "status": p.status.value, "impact_share": str(p.impact_share_bps / 100),
            }  # fmt: skip
        response = self.admin.post(f"/admin/products/{product_id}", data=form)
        return self._succeeded(self.admin, response) and response.status_code == 302

    # --- buying ----------------------------------------------------------------------------

    def add_to_cart(self, buyer: int, variant_id: int, quantity: int) -> bool:
        client = self.buyers[buyer]
        response = client.post(
            "/cart/add", data={"variant_id": str(variant_id), "quantity": str(quantity)}
        )
        return self._succeeded(client, response)

    def checkout(self, buyer: int) -> PlacedOrder | None:
        client = self.buyers[buyer]
        response = client.post("/checkout", data=BUYER_FORM)
        self._flashes(client)
        if response.status_code >= 500:
            raise AssertionError(f"checkout answered {response.status_code}")
        location = response.headers.get("Location", "")
        if response.status_code != 302 or "/pay" not in location:
            return None
        token = location.rstrip("/").split("/")[-2]
        return self.order_by_token(token)

    def order_by_token(self, token: str) -> PlacedOrder:
        with self.app.app_context():
            o = db.session.scalars(select(Order).where(Order.token == token)).one()
            payment = next((p.reference for p in o.payments if p.status == "succeeded"), "")
            lines = tuple(
                PlacedLine(li.id, li.variant_id, li.sku, li.quantity, li.line_total,
                           li.impact_share_bps, li.workshop_id)
                for li in o.lines
            )  # fmt: skip
            return PlacedOrder(o.id, o.token, o.number, o.total, o.shipping, payment, lines)

    def pay(self, buyer: int, token: str, card: str = PAYING_CARD) -> str:
        """'paid', 'declined' or 'refused' (the order was no longer waiting for payment)."""
        client = self.buyers[buyer]
        before = self._status(token)
        response = client.post(f"/orders/{token}/pay", data={"card_number": card})
        self._flashes(client)
        if response.status_code == 402:
            return "declined"
        if response.status_code == 302:
            paid = before == OrderStatus.PENDING_PAYMENT and self._status(token) == OrderStatus.PAID
            return "paid" if paid else "refused"
        raise AssertionError(f"the pay page answered {response.status_code}")

    def _status(self, token: str) -> OrderStatus:
        with self.app.app_context():
            return db.session.scalar(select(Order.status).where(Order.token == token))

    def advance_clock(self, minutes: int) -> None:
        self.clock.offset += timedelta(minutes=minutes)

    def now(self) -> datetime:
        return self.clock.now()

    def expire_holds(self) -> None:
        """The cron command that releases holds that ran out."""
        result = self._cli("orders", "expire")
        assert result.exit_code == 0, result.output

    # --- the back office on orders ---------------------------------------------------------

    def cancel(self, order_id: int) -> bool:
        response = confirmed(self.admin, f"/admin/orders/{order_id}/cancel")
        return self._succeeded(self.admin, response)

    def ship(self, order_id: int, tracking: str) -> bool:
        response = self.admin.post(
            f"/admin/orders/{order_id}/ship", data={"tracking_number": tracking}
        )
        return self._succeeded(self.admin, response)

    def refund_back_office(
        self, order_id: int, line_amounts: dict[int, int] | None, shipping: bool, key: str
    ) -> bool:
        """The admin refund form: everything (None), or amounts per line id, ± the shipping."""
        data = {"reason": "model", "request_key": key}
        if line_amounts is None:
            data["everything"] = "y"
        else:
            data.update({f"line-{lid}": major(c) for lid, c in line_amounts.items()})
        if shipping:
            data["include_shipping"] = "y"
        response = confirmed(self.admin, f"/admin/orders/{order_id}/refund/confirm", data)
        return self._succeeded(self.admin, response)

    def refund_by_command(
        self, number: str, sku_amounts: dict[str, int] | None, shipping: bool, meanwhile=None
    ) -> bool:
        """`flask orders refund`; `meanwhile` runs while the command waits for the gateway,
        in a context of its own (another request committing in between)."""
        args = ["orders", "refund", number]
        for sku, cents in (sku_amounts or {}).items():
            args += ["--line", f"{sku}={major(cents)}"]
        if shipping:
            args.append("--shipping")
        active = self.app.extensions["payment_gateway"]
        if meanwhile is not None:
            self.app.extensions["payment_gateway"] = Interleaving(active, meanwhile)
        try:
            result = self._cli(*args)
        finally:
            self.app.extensions["payment_gateway"] = active
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code == 0

    # --- Stripe dashboard refunds ----------------------------------------------------------

    def refund_events(self, reference: str, refund_id: str, amount: int, charge_refunded: int,
                      total: int, updated: bool) -> list[bytes]:  # fmt: skip
        """The events Stripe (API 2022-11-15 and later) sends for a dashboard refund:
        `refund.created` (and `refund.updated`) with the Refund, and `charge.refunded`
        whose charge has `amount_refunded` and no `refunds` list."""
        charge = f"ch_{reference}"
        refund = {"id": refund_id, "object": "refund", "amount": amount, "currency": "usd",
                  "charge": charge, "payment_intent": reference, "status": "succeeded",
                  "created": self._stripe_now(), "metadata": {}}  # fmt: skip
        kinds = [("refund.created", refund)]
        if updated:
            kinds.append(("refund.updated", refund))
        kinds.append(("charge.refunded", {
            "id": charge, "object": "charge", "payment_intent": reference, "amount": total,
            "amount_refunded": charge_refunded, "refunded": charge_refunded == total,
            "currency": "usd", "metadata": {},
        }))  # fmt: skip
        events = []
        for kind, obj in kinds:
            self._event_ids += 1
            event = {"id": f"evt_model_{self._event_ids}", "object": "event", "type": kind,
                     "api_version": "2024-06-20", "created": int(time.time()),
                     "data": {"object": obj}}  # fmt: skip
            events.append(json.dumps(event).encode())
        return events

    def _stripe_now(self) -> int:
        """Stripe's clock is the real one: the model moves only the store's clock (for
        holds running out), and the store stamps its own rows (Refund.created_at) by
        the real clock too, through its column defaults."""
        return int(self.clock.original().timestamp())

    def deliver_event(self, payload: bytes) -> str:
        """What the webhook's request and then its job do with a signed payload, with the
        store's gateway name (its emails included), here in one unit of work."""

        def deliver():
            with self.app.app_context():
                event = self.stripe.parse_webhook(payload, sign(payload))
                db.session.rollback()  # as the view: the API is asked with no transaction open
                # The model's Stripe API does not answer (127.0.0.1:9), so the store works
                # from what the event itself carries, as it must when Stripe is down.
                event = self.stripe.with_current_refunds(event)
                with unit_of_work():  # as the webhook's request: commit, then the emails
                    return apply_gateway_event(gateway().name, event)

        return fresh(deliver)

    # --- training accounts (staff) ----------------------------------------------------------

    def request_withdrawal(self, staff: int, trainee_id: int, cents: int) -> int | None:
        client = self.staff[staff]
        response = client.post(f"/staff/trainees/{trainee_id}/withdrawals", data={
            "withdrawal-amount": major(cents), "withdrawal-purpose": "course_fees",
            "withdrawal-payee": "City College",
        })  # fmt: skip
        if not self._succeeded(client, response) or response.status_code != 302:
            return None
        with self.app.app_context():
            return db.session.scalar(
                select(func.max(Withdrawal.id)).where(Withdrawal.trainee_id == trainee_id)
            )

    def decide_withdrawal(self, staff: int, withdrawal_id: int, approve: bool) -> bool:
        client = self.staff[staff]
        if approve:  # through its confirmation page, as staff do
            response = confirmed(client, f"/staff/withdrawals/{withdrawal_id}/approve")
        else:
            response = client.post(
                f"/staff/withdrawals/{withdrawal_id}/reject", data={"note": "model"}
            )
        return self._succeeded(client, response)

    def propose_correction(self, staff: int, trainee_id: int, cents: int, key: str) -> int | None:
        """The staff correction form; the proposal's id, or None when it was refused."""
        client = self.staff[staff]
        amount = ("-" if cents < 0 else "") + major(abs(cents))
        response = client.post(f"/staff/trainees/{trainee_id}/corrections", data={
            "correction-amount": amount, "correction-reason": "model correction",
            "correction-request_key": key,
        })  # fmt: skip
        if not self._succeeded(client, response) or response.status_code != 302:
            return None
        with self.app.app_context():
            return db.session.scalar(
                select(CorrectionRequest.id).where(CorrectionRequest.request_key == key)
            )

    def decide_correction(self, staff: int, correction_id: int, approve: bool) -> bool:
        client = self.staff[staff]
        if approve:  # through its confirmation page, as staff do
            response = confirmed(client, f"/staff/corrections/{correction_id}/approve")
        else:
            response = client.post(
                f"/staff/corrections/{correction_id}/reject", data={"note": "model"}
            )
        return self._succeeded(client, response)

    def correction_in_a_batch(
        self, trainee_id: int, cents: int, key: str, unknown: bool
    ) -> tuple[str, int | None]:
        """The correction services called by a caller that proposes and approves several in
        one unit of work and carries on past a refused one (as an import would): staff 0
        proposes, staff 1 approves. ('posted' | 'refused' | 'crashed: …', the proposal's
        id when one was made). `unknown` asks for a trainee id that does not exist."""

        def call():
            with self.app.app_context():
                proposer = db.session.get(User, self.staff_ids[0])
                approver = db.session.get(User, self.staff_ids[1])
                target = trainee_id
                if unknown:
                    target = (
                        db.session.scalar(select(func.max(LedgerAccount.trainee_id))) or 0
                    ) + 1000
                proposal_id = None
                try:
                    proposal, _new = training.propose_correction(
                        trainee_id=target, amount=cents, reason="batch", proposed_by=proposer,
                        request_key=key,
                    )  # fmt: skip
                    proposal_id = proposal.id
                    training.approve_correction(proposal_id, approver)
                    outcome = "posted"
                except (training.TrainingError, LedgerError):
                    # No rollback: the caller carries on and commits the rest of its work,
                    # so a refusal that left anything written (defect 6) is committed.
                    outcome = "refused"
                except RecursionError as exc:
                    db.session.rollback()
                    return f"crashed: {type(exc).__name__}", None
                db.session.commit()
                return outcome, proposal_id

        return fresh(call)

    # --- reading the store -----------------------------------------------------------------

    def ledger_verify(self) -> tuple[bool, str]:
        result = self._cli("ledger", "verify")
        return result.exit_code == 0, result.output

    def read(self) -> StoreState:
        """What the store holds now (tests/model/store_state.py reads it)."""

        def read():
            with self.app.app_context():
                return read_state(self.outbox)

        return fresh(read)


__all__ = ["PlacedOrder", "StoreDriver", "StoreState", "store_settings"]
