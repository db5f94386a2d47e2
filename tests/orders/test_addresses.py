"""Issue 11, addresses of every country: the checkout asks for the fields each country
needs (a US state, an Indian PIN code, a Japanese prefecture), refuses a postcode of the
wrong shape naming the expected one, writes nothing when it refuses, and the address is
printed in its country's format on the order page and in the emails."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.orders import addresses
from shop.orders.models import Order
from tests.conftest import sign_in
from tests.factories import user
from tests.orders.conftest import new_order, stocked_variant
from tests.orders.test_cart_and_checkout import add
from tests.orders.test_payments import outbox
from tests.store_state import changes, store_state

BUYER = {"email": "buyer@example.com", "name": "Ana Buyer", "shipping_method": "standard"}

# country: (what the buyer types, the lines printed, a postcode refused, the message)
COUNTRIES = {
    "US": (
        {"address_line1": "1 Market St", "address_line2": "Suite 5", "city": "San Francisco",
         "country_area": "CA", "postal_code": "94107"},
        ["Ana Buyer", "1 Market St", "Suite 5", "SAN FRANCISCO, CA 94107", "UNITED STATES"],
        "9410", "Enter a ZIP code, like 95014",
    ),
    "GB": (
        {"address_line1": "10 Downing Street", "city": "London", "postal_code": "sw1a 2aa"},
        ["Ana Buyer", "10 Downing Street", "LONDON", "SW1A 2AA", "UNITED KINGDOM"],
        "94107", "Enter a postcode, like EC1Y 8SY",
    ),
    "IN": (
        {"address_line1": "12 MG Road", "city": "Bengaluru", "country_area": "Karnataka",
         "postal_code": "560001"},
        ["Ana Buyer", "12 MG Road", "BENGALURU 560001", "Karnataka", "INDIA"],
        "56001", "Enter a PIN code, like 110034",
    ),
    "KH": (
        {"address_line1": "#12 Street 240", "city": "Phnom Penh", "postal_code": "120101"},
        ["Ana Buyer", "#12 Street 240", "PHNOM PENH 120101", "CAMBODIA"],
        "12", "Enter a postcode, like 120101",
    ),
    "JP": (
        {"postal_code": "150-0002", "country_area": "東京都",
         "address_line1": "1-2-3 Shibuya, Shibuya-ku"},
        ["Ana Buyer", "1-2-3 Shibuya, Shibuya-ku, TOKYO", "150-0002", "JAPAN"],
        "1500-002", "Enter a postcode, like 154-0023",
    ),
}  # fmt: skip


def _cart(client):
    variant = stocked_variant(quantity=5)
    db.session.commit()
    add(client, variant.id)
    return variant


def _checkout(client, country: str, **typed):
    return client.post("/checkout", data={**BUYER, "country": country, **typed})


def _printed(page: str) -> list[str]:
    """The lines of the page's postal address."""
    found = re.search(r'<address class="postal-address"[^>]*>(.*?)</address>', page, re.S)
    assert found, "no postal address on the page"
    return [unescape(line) for line in found.group(1).split("<br>")]


def _pay(client, order: Order):
    response = client.post(f"/orders/{order.token}/pay", data={"card_number": "4242424242424242"})
    assert response.status_code == 302


@pytest.mark.parametrize("country", sorted(COUNTRIES))
def test_an_address_of_each_country_is_kept_and_printed_in_its_format(client, ctx, app, country):
    typed, lines, _, _ = COUNTRIES[country]
    _cart(client)
    response = _checkout(client, country, **typed)
    assert response.status_code == 302 and "/pay" in response.location
    order = db.session.scalars(select(Order)).one()
    assert order.country_code == country
    assert order.country_area == typed.get("country_area", "")
    response = client.get(f"/orders/{order.token}")
    assert _printed(response.get_data(as_text=True)) == lines
    assert response.headers["Cache-Control"] == "private, no-store"  # an address: kept nowhere

    _pay(client, order)
    mail = outbox(app)[-1]
    unindented = "\n".join(line.strip() for line in mail.splitlines())
    assert order.number in mail and "\n".join(lines) in unindented  # the confirmation, .txt


@pytest.mark.parametrize("country", ["US", "JP", "IN", "GB"])
def test_the_pay_page_prints_the_address_as_the_order_page_does(client, ctx, country):
    """The pay page's "Your details" once built the address by hand: no US state, a blank
    line and no prefecture for Japan, a UK postcode beside the town."""
    typed, lines, _, _ = COUNTRIES[country]
    _cart(client)
    response = _checkout(client, country, **typed)
    pay_page = client.get(response.location).get_data(as_text=True)
    order = db.session.scalars(select(Order)).one()
    order_page = client.get(f"/orders/{order.token}").get_data(as_text=True)
    assert _printed(pay_page) == _printed(order_page) == lines


@pytest.mark.parametrize("country", sorted(COUNTRIES))
def test_a_postcode_of_the_wrong_shape_is_refused_naming_the_format(client, ctx, country):
    typed, _, wrong, message = COUNTRIES[country]
    _cart(client)
    before = store_state()
    response = _checkout(client, country, **{**typed, "postal_code": wrong})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'<a href="#postal_code">{message}</a>' in page  # in the summary, linked
    assert f'id="postal_code-error"><span class="visually-hidden">Error:</span> {message}' in page
    assert changes(before, store_state()) == {}  # nothing written


@pytest.mark.parametrize(
    ("country", "typed", "printed"),
    [("GB", "sw1a2aa", "SW1A 2AA"), ("CA", "k1a0b1", "K1A 0B1"), ("GB", "BFPO 61", "BFPO 61")],
)
def test_a_postcode_typed_without_its_space_is_printed_with_it(
    client, ctx, country, typed, printed
):
    address = {"address_line1": "10 Downing Street", "city": "London", "postal_code": typed}
    if country == "CA":
        address = {"address_line1": "24 Sussex Drive", "city": "Ottawa", "country_area": "ON",
                   "postal_code": typed}  # fmt: skip
    _cart(client)
    assert _checkout(client, country, **address).status_code == 302
    order = db.session.scalars(select(Order).order_by(Order.id.desc())).first()
    assert order.postal_code == printed


@pytest.mark.parametrize(
    ("field", "typed", "char"),
    [("name", "Zo\u00eb \u202eevil", "U+202E"), ("city", "Lon\tdon", "U+0009"),
     ("address_line1", "10 Downing\u0007 Street", "U+0007"), ("email", "a\u2066b@example.com", "U+2066")],
)  # fmt: skip
def test_control_and_reordering_characters_are_refused(client, ctx, field, typed, char):
    """Attack on issue 11, finding 13: a right-to-left override typed in a name reversed it
    in the back office's order list. Refused beside its field; nothing is written."""
    _cart(client)
    before = store_state()
    address = {**COUNTRIES["GB"][0], field: typed}
    response = _checkout(client, "GB", **address)
    assert response.status_code == 400
    page = unescape(response.get_data(as_text=True))
    assert f"has a character that cannot be printed ({char}" in page
    assert changes(before, store_state()) == {}
    right_to_left = {**COUNTRIES["GB"][0], "name": "\u200fמרים כהן"}  # a mark is allowed
    assert _checkout(client, "GB", **right_to_left).status_code == 302


def test_a_us_address_needs_a_state_and_a_zip_code_of_that_state(client, ctx):
    typed = COUNTRIES["US"][0]
    _cart(client)
    before = store_state()
    page = _checkout(client, "US", **{**typed, "country_area": ""}).get_data(as_text=True)
    assert '<a href="#country_area">Choose a state</a>' in page
    page = _checkout(client, "US", **{**typed, "country_area": "NY"}).get_data(as_text=True)
    assert "Enter a ZIP code in New York, like 10000" in page
    page = _checkout(client, "US", **{**typed, "country_area": "XX"}).get_data(as_text=True)
    assert "Choose a state from the list" in page
    assert changes(before, store_state()) == {}


def test_a_japanese_address_in_japanese_is_printed_the_japanese_way(client, ctx):
    _cart(client)
    typed = {"postal_code": "1500002", "country_area": "東京都", "address_line1": "渋谷区渋谷1-2-3"}
    response = client.post(
        "/checkout", data={**BUYER, "name": "山田太郎", "country": "JP", **typed}
    )
    assert response.status_code == 302
    order = db.session.scalars(select(Order)).one()
    page = client.get(f"/orders/{order.token}").get_data(as_text=True)
    assert _printed(page) == ["〒1500002", "東京都", "渋谷区渋谷1-2-3", "山田太郎", "JAPAN"]


def test_each_country_gets_its_own_fields_and_optional_ones_say_so(client, ctx):
    _cart(client)
    us = client.get("/checkout").get_data(as_text=True)  # the store's country (en_US)
    assert '<label for="country_area">State</label>' in us
    assert '<option value="CA">California</option>' in us
    assert '<label for="postal_code">ZIP code</label>' in us
    assert 'Address, second line <span class="optional">(optional)</span>' in us

    # Changing the country without a script: "Update address fields" draws its fields,
    # keeping what was typed, checking nothing and writing nothing.
    before = store_state()
    response = client.post(
        "/checkout", data={**BUYER, "country": "IN", "city": "Pune", "update_fields": "1"}
    )
    india = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" not in india
    assert '<label for="postal_code">PIN code</label>' in india
    assert '<option value="Maharashtra">Maharashtra</option>' in india
    assert 'value="Pune"' in india and 'name="fields_for" value="IN"' in india

    japan = client.post("/checkout", data={"country": "JP", "update_fields": "1"}).get_data(
        as_text=True
    )
    assert 'for="city"' not in japan  # a Japanese address has no separate city
    assert japan.index('for="postal_code"') < japan.index('for="country_area"')
    assert '<label for="country_area">Prefecture</label>' in japan
    assert "Tokyo (東京都)" in japan

    cambodia = client.post("/checkout", data={"country": "KH", "update_fields": "1"}).get_data(
        as_text=True
    )
    assert 'Postcode <span class="optional">(optional)</span>' in cambodia
    assert changes(before, store_state()) == {}


def test_a_country_changed_after_its_fields_were_drawn_redraws_them_first(client, ctx):
    """Place order pressed after choosing another country: the page comes back with that
    country's fields, and says so, rather than placing the order or blaming the buyer."""
    _cart(client)
    typed = COUNTRIES["US"][0]
    before = store_state()
    response = client.post(
        "/checkout", data={**BUYER, **typed, "country": "GB", "fields_for": "US"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" not in page
    assert "The address fields now follow the format of United Kingdom" in page
    assert 'for="country_area"' not in page and 'value="London"' not in page
    assert changes(before, store_state()) == {}
    # sent again, now drawn for the UK: placed
    response = client.post(
        "/checkout", data={**BUYER, **COUNTRIES["GB"][0], "country": "GB", "fields_for": "GB"}
    )
    assert response.status_code == 302


def test_a_signed_in_customer_finds_their_email_and_last_address_filled_in(client, ctx):
    customer = user("customer", email="regular@example.org")
    variant = stocked_variant()
    older = new_order([(variant, 1)])
    older.user_id = customer.id
    latest = new_order([(variant, 1)])
    latest.user_id = customer.id
    for name, value in {"name": "Priya Rao", "address_line1": "12 MG Road", "city": "Bengaluru",
                        "country_area": "Karnataka", "postal_code": "560001",
                        "country_code": "IN"}.items():  # fmt: skip
        setattr(latest, name, value)
    db.session.commit()
    sign_in(client, customer)
    add(client, variant.id)
    page = client.get("/checkout").get_data(as_text=True)
    assert 'value="regular@example.org"' in page
    assert 'value="Priya Rao"' in page and 'value="12 MG Road"' in page
    assert '<option selected value="IN">India</option>' in page
    assert '<option selected value="Karnataka">Karnataka</option>' in page
    assert 'value="560001"' in page
    # a guest gets an empty form
    guest = client.application.test_client()
    add(guest, variant.id)
    assert 'value="Priya Rao"' not in guest.get("/checkout").get_data(as_text=True)


def test_orders_placed_before_the_address_parts_print_as_before(client, ctx):
    order = new_order([(stocked_variant(), 1)])  # FR, no region: as every older order
    db.session.commit()
    page = client.get(f"/orders/{order.token}").get_data(as_text=True)
    assert _printed(page) == ["Ana Buyer", "1 Road", "69001 LYON", "FRANCE"]
    assert addresses.address_lines({"name": "A", "address_line1": "1 Road", "city": "Nowhere",
                                    "country_code": "QQ"}) == ["A", "1 Road", "Nowhere", "QQ"]  # fmt: skip


def test_the_checkout_keeps_its_query_budget_with_a_customers_history(client, ctx, count_queries):
    customer = user("customer")
    variants = [stocked_variant(quantity=9) for _ in range(3)]
    history = stocked_variant(quantity=30)
    for _ in range(20):  # however many orders the customer placed before
        new_order([(history, 1)]).user_id = customer.id
    db.session.commit()
    for variant in variants:
        add(client, variant.id)
    with count_queries() as guest_page:
        assert client.get("/checkout").status_code == 200
    with count_queries() as refused:
        assert (
            _checkout(client, "US", **{**COUNTRIES["US"][0], "postal_code": "1"}).status_code == 400
        )
    sign_in(client, customer)
    with count_queries() as customer_page:
        page = client.get("/checkout").get_data(as_text=True)
    assert f'value="{customer.email}"' in page and 'value="Ana Buyer"' in page  # filled in
    assert guest_page.count <= 1, guest_page.statements  # the cart's variants
    assert refused.count <= 1, refused.statements  # checked before anything is read
    # the customer, then their last address in one statement, whatever their history
    assert customer_page.count <= 3, customer_page.statements


def test_every_country_listed_has_a_form_of_its_own_fields_once():
    from shop.orders.addresses import countries, form_fields

    listed = countries("en_US")
    assert len(listed) > 240 and ("EU", "European Union") not in listed
    for code, _ in listed:
        names = [spec.name for spec in form_fields(code)]
        assert "address_line1" in names and len(names) == len(set(names)), code
    assert [s.name for s in form_fields("CI")].count("sorting_code") == 1  # %X twice in its format


def test_a_town_missing_from_the_metadatas_lists_is_kept_as_typed():
    """Brazil's metadata lists towns per state; a town it forgot is still a town."""
    typed = {"address_line1": "Rua 1", "city": "Nova Vila", "country_area": "sp",
             "postal_code": "01000-000"}  # fmt: skip
    stored, problems = addresses.check("BR", typed)
    assert problems == {} and (stored["city"], stored["country_area"]) == ("Nova Vila", "SP")
    _, problems = addresses.check("BR", {**typed, "postal_code": "1000"})
    assert problems == {"postal_code": "Enter a postcode, like 40301-110"}
