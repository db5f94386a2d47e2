"""The buyer's order page and the receipt email (issue 11, buyers 7): when the order was
placed and paid, the items, where and how it ships, how it was paid and for how much,
and what it put into the makers' training accounts; the same facts in the page, the
HTML email and the text email."""

from __future__ import annotations

import email
import email.policy
import html
from pathlib import Path

from babel.dates import format_date

from shop.extensions import db
from shop.orders.models import Order
from shop.timeutil import today
from tests import factories as f
from tests.orders.conftest import BUYER

CHECKOUT = {
    "email": BUYER.email, "name": "Ana Buyer", "address_line1": "12 Rue des Tisserands",
    "address_line2": "Bâtiment B", "city": "Lyon", "postal_code": "69001", "country": "FR",
    "shipping_method": "express",
}  # fmt: skip


def _mails(app, before: set[Path]) -> list[email.message.EmailMessage]:
    folder = Path(app.config["MAIL_OUTBOX"])
    new = sorted(set(folder.glob("*.eml")) - before)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in new]


def _outbox(app) -> set[Path]:
    folder = Path(app.config["MAIL_OUTBOX"])
    return set(folder.glob("*.eml")) if folder.exists() else set()


def _buy(app, client):
    """Two lines bought through the store's own forms; the order, paid."""
    w = f.workshop(name="Loom House")
    f.vet(w)
    makers = [f.trainee(w) for _ in range(2)]
    tote = f.product(w, name="Jute Tote", price=2400)
    tie = f.product(w, name="Silk Tie", price=1500)
    f.batch(tote.variants[0], quantity=5, makers=[(m, 1) for m in makers])
    f.batch(tie.variants[0], quantity=5, makers=[(makers[0], 1)])
    db.session.commit()
    client.post("/cart/add", data={"variant_id": tote.variants[0].id, "quantity": "2"})
    client.post("/cart/add", data={"variant_id": tie.variants[0].id, "quantity": "1"})
    placed = client.post("/checkout", data=CHECKOUT)
    assert placed.status_code == 302, placed.get_data(as_text=True)
    token = placed.headers["Location"].split("/orders/")[1].split("/")[0]
    return token


def _expected() -> list[str]:
    day = format_date(today(), "d MMM y", locale="en_US")
    return [
        f"Placed {day}",
        f"Paid on {day}",
        "$88.00",  # 2 x 24.00 + 15.00 + 25.00 express
        "Card (test mode: no money moved)",
        "Express courier (3 to 5 days)",
        "Ana Buyer", "12 Rue des Tisserands", "Bâtiment B", "69001 LYON", "FRANCE",  # as the French post writes them
        "Jute Tote", "Silk Tie", "$48.00", "$15.00",
        "$6.30 to the makers' training accounts at Loom House",  # no head count under five
    ]  # fmt: skip


def _words(text: str) -> str:
    """Text with tags, entities and the labels' punctuation out of the way."""
    import re

    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.replace(":", " ").replace("·", " ").split())


def test_the_order_page_and_both_parts_of_the_receipt_tell_the_whole_order(app, ctx, client):
    before = _outbox(app)
    token = _buy(app, client)
    unpaid = _words(client.get(f"/orders/{token}").get_data(as_text=True))
    assert "Payment Not paid yet $88.00" in unpaid and "Ship to Ana Buyer" in unpaid
    paid = client.post(f"/orders/{token}/pay", data={"card_number": "4242 4242 4242 4242"})
    assert paid.status_code == 302
    assert db.session.query(Order).filter_by(token=token).one().paid_at is not None

    (receipt,) = [m for m in _mails(app, before) if m["Subject"].startswith("Your order")]
    parts = {
        "the order page": client.get(f"/orders/{token}").get_data(as_text=True),
        "the email's text": receipt.get_body(("plain",)).get_content(),
        "the email's HTML": receipt.get_body(("html",)).get_content(),
    }
    for where, body in parts.items():
        words = _words(body)
        missing = [fact for fact in _expected() if _words(fact) not in words]
        assert missing == [], (where, missing, words)
    # the address is printed a line each, in that order, in all three
    text = parts["the email's text"]
    assert (
        "Ship to:\n  Ana Buyer\n  12 Rue des Tisserands\n  Bâtiment B\n  69001 LYON\n  FRANCE\n"
        in (text)
    )
    for where in ("the order page", "the email's HTML"):
        assert (
            "Ana Buyer<br>12 Rue des Tisserands<br>Bâtiment B<br>69001 LYON<br>FRANCE"
            in parts[where]
        ), where
