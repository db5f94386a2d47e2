"""Issue 11, checkout errors a person can find: after a failed submit the page's title
starts "Error:", an error summary comes first (focused as the page loads: autofocus,
tabindex=-1) with a link to each field in trouble, each message says what to do and is
tied to its field, and a declined card is told beside the card field (role="alert")."""

from __future__ import annotations

import re

from shop.extensions import db
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_cart_and_checkout import add


def _title(page: str) -> str:
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1).strip()


def _summary(page: str) -> str:
    found = re.search(r'<div class="error-summary"[^>]*>.*?</div>', page, re.S)
    assert found, "no error summary"
    return found.group(0)


def test_a_failed_checkout_puts_a_focused_summary_first_linking_to_each_field(client, ctx):
    variant = stocked_variant()
    db.session.commit()
    add(client, variant.id)
    assert _title(client.get("/checkout").get_data(as_text=True)).startswith("Checkout")
    response = client.post("/checkout", data={"email": "not an address", "country": "US",
                                              "postal_code": "ABC"})  # fmt: skip
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _title(page).startswith("Error: Checkout")
    summary = _summary(page)
    assert 'tabindex="-1"' in summary and "autofocus" in summary
    assert page.index('class="error-summary"') < page.index("<h1>")  # first in the content
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert links == [
        ("email", "Enter an email address in the right format, like name@example.com"),
        ("name", "Enter your full name"),
        ("address_line1", "Enter your street address"),
        ("city", "Enter a city"),
        ("country_area", "Choose a state"),
        ("postal_code", "Enter a ZIP code, like 95014"),
        ("shipping_method-0", "Choose a shipping method"),
    ]
    for anchor, _ in links:  # each link reaches a field of that id
        assert f'id="{anchor}"' in page
    assert 'aria-describedby="postal_code-hint postal_code-error"' in page


def test_the_country_error_is_tied_to_the_country_field(client, ctx):
    variant = stocked_variant()
    db.session.commit()
    add(client, variant.id)
    page = client.post("/checkout", data={"country": ""}).get_data(as_text=True)
    assert '<a href="#country">Choose a country</a>' in _summary(page)
    select = re.search(r'<select[^>]*id="country"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in select
    described = re.search(r'aria-describedby="([^"]+)"', select).group(1).split()
    assert "country-error" in described
    assert re.search(r'<p class="error-text" id="country-error">.*Choose a country</p>', page)


def test_a_shipping_method_error_links_to_its_first_choice(client, ctx):
    variant = stocked_variant()
    db.session.commit()
    add(client, variant.id)
    page = client.post("/checkout", data={"shipping_method": "teleport"}).get_data(as_text=True)
    assert '<a href="#shipping_method-0">Choose a shipping method</a>' in _summary(page)
    assert 'aria-describedby="shipping_method-error"' in page  # on the group's fieldset


def test_an_order_that_cannot_be_placed_is_told_in_the_summary_with_the_way_back(client, ctx):
    variant = stocked_variant(quantity=1)
    db.session.commit()
    add(client, variant.id)
    new_order([(variant, 1)])  # someone else holds the last one meanwhile
    db.session.commit()
    response = client.post("/checkout", data={
        "email": "buyer@example.com", "name": "Ana Buyer", "address_line1": "1 Road",
        "city": "Lyon", "postal_code": "69001", "country": "FR", "shipping_method": "standard",
    })  # fmt: skip
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert _title(page).startswith("Error: Checkout")
    assert re.search(r'<a href="/cart">[^<]*sold out[^<]*</a>', _summary(page))


def test_a_declined_card_is_told_beside_the_card_field(client, ctx):
    order = new_order([(stocked_variant(), 1)])
    db.session.commit()
    page = client.get(f"/orders/{order.token}/pay").get_data(as_text=True)
    assert 'role="alert"' not in page and _title(page).startswith("Pay for order")
    response = client.post(f"/orders/{order.token}/pay", data={"card_number": "4000000000000002"})
    assert response.status_code == 402
    page = response.get_data(as_text=True)
    assert _title(page).startswith("Error: Pay for order")
    field = re.search(r'<div class="field field-error">.*?</div>', page, re.S).group(0)
    assert re.search(r'<p id="card_number-error" class="error-text" role="alert">.*declined', field)
    card = re.search(r'<input id="card_number"[^>]*>', field).group(0)
    assert 'aria-describedby="card_number-error"' in card and 'aria-invalid="true"' in card
