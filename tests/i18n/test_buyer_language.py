"""A buyer's order keeps the language she shopped in: her emails speak it, and so does
the packing slip in her parcel, whatever language the packer reads the back office in."""

from __future__ import annotations

import re

from flask_babel import gettext
from sqlalchemy import select

from shop.extensions import db
from shop.i18n import force_language
from shop.orders.models import Order
from shop.orders.notifications import confirmation_message
from tests.conftest import client_as
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT, add


def _in(language: str, text: str) -> str:
    with force_language(language):
        return gettext(text)


def test_an_order_placed_in_hindi_is_told_and_packed_in_hindi(app, ctx, client):
    variant = stocked_variant(quantity=3)
    db.session.commit()
    client.set_cookie("lang", "hi")
    add(client, variant.id)
    assert client.post("/checkout", data=CHECKOUT).status_code in (302, 303)
    order = db.session.scalars(select(Order).where(Order.email == CHECKOUT["email"])).one()
    assert order.language == "hi"

    mail = confirmation_message(order)
    with force_language("hi"):
        subject = gettext(
            "Your order %(number)s from %(store)s",
            number=order.number,
            store=app.config["STORE_NAME"],
        )
    assert (
        mail["Subject"] == subject != f"Your order {order.number} from {app.config['STORE_NAME']}"
    )
    assert 'lang="hi"' in mail.get_body(("html",)).get_content()

    order.status = "paid"  # a slip is printed for an order with something to ship
    db.session.commit()
    admin = client_as(app, "admin")  # she reads the back office in English
    page = admin.post("/admin/orders/packing-slips", data={"order": [order.id]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="en"' in html
    slip = re.search(r'<article class="packing-slip" lang="hi".*?</article>', html, re.S)
    assert slip, "the slip is not in the buyer's language"
    assert _in("hi", "Ship to") in slip.group(0) and ">Ship to<" not in slip.group(0)


def test_an_order_from_before_languages_is_told_in_english(app, ctx):
    order = new_order([(stocked_variant(quantity=1), 1)])
    order.language = None
    db.session.commit()
    assert confirmation_message(order)["Subject"].startswith("Your order")
