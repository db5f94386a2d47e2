"""Every back-office form follows the store's error pattern (as the checkout does): after a
failed submit the page's title starts "Error:", the error summary comes first in its
content (focused as the page loads) with a link to each field at fault, each message says
which field and what to type, and each problem is said once beside its field (and in the
summary), never also in a flashed banner."""

from __future__ import annotations

import html
import importlib
import inspect
import re

import pytest
from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired
from wtforms import DateField, SelectField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from shop.extensions import db
from tests import factories as f
from tests.conftest import client_as
from tests.orders.conftest import stocked_variant
from tests.store_state import changes, store_state
from tests.training.conftest import paid_order

BACK_OFFICE_MODULES = [
    "shop.admin.catalog_forms",
    "shop.admin.catalog_views",
    "shop.admin.order_views",
    "shop.admin.order_work_views",
    "shop.admin.stock_views",
    "shop.content.admin_views",
    "shop.provenance.staff_views",
    "shop.training.forms",
    "shop.training.views",
    "shop.training.correction_views",
]
# WTForms' own words, which say neither which field nor what to type.
GENERIC = ("This field is required.", "Field cannot be longer", "Field must be",
           "Not a valid choice", "Invalid Choice", "Not a valid date", "Invalid input.")  # fmt: skip


def _forms():
    for name in BACK_OFFICE_MODULES:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, FlaskForm) and cls.__module__ == name:
                yield cls


def _unbound_fields(cls):
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if isinstance(value, UnboundField):
                yield name, value


def _missing_messages(cls) -> list[str]:
    missing = []
    for name, unbound in _unbound_fields(cls):
        kwargs = unbound.kwargs
        validators = kwargs.get("validators") or (unbound.args[1] if len(unbound.args) > 1 else [])
        for v in validators:
            checked = (InputRequired, DataRequired, Length, NumberRange, Regexp, FileRequired)
            if isinstance(v, checked) and not v.message:
                missing.append(f"{cls.__name__}.{name}: {type(v).__name__} without a message")
        if issubclass(unbound.field_class, SelectField):
            if kwargs.get("validate_choice", True) and not kwargs.get("invalid_choice_message"):
                missing.append(f"{cls.__name__}.{name}: a choice refused in WTForms' words")
            if kwargs.get("coerce") is int and not kwargs.get("invalid_value_message"):
                missing.append(f"{cls.__name__}.{name}: a value refused in WTForms' words")
        if issubclass(unbound.field_class, DateField) and not kwargs.get("invalid_value_message"):
            missing.append(f"{cls.__name__}.{name}: a date refused in WTForms' words")
    return missing


def test_every_back_office_form_says_its_own_words():
    forms = list(_forms())
    assert len(forms) >= 20  # the modules' forms were found
    assert [m for cls in forms for m in _missing_messages(cls)] == []


# --- A failed submit, form by form -----------------------------------------------------


def _summary(page: str) -> str:
    found = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', page, re.S)
    assert found, "an error summary"
    assert "autofocus" in found.group(0)[:200] and 'tabindex="-1"' in found.group(0)[:200]
    return found.group(1)


def assert_error_pattern(response, expected: list[tuple[str, str]]) -> str:
    """The page follows the pattern, and says each (field id, message) beside the field
    and in the summary, linked to it. Returns the page."""
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400, page[-2000:]
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert title.startswith("Error: "), title
    summary = _summary(page)
    main = page[page.index('<main id="main"') :]
    assert main.index('class="error-summary"') < main.index("<h1"), "the summary comes first"
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    for field_id, message in expected:
        assert (field_id, message) in links, (field_id, message, links)
        assert page.count(message) == 2, f"{message!r} beside its field and in the summary"
        tag = re.search(rf'<(input|textarea|select)[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
        assert tag, f"the summary's link #{field_id} reaches its field"
        assert 'aria-invalid="true"' in tag.group(0)
    for field_id, _ in links:  # every link reaches a field of the page
        assert f'id="{field_id}"' in page, field_id
    assert not any(words in page for words in GENERIC), [w for w in GENERIC if w in page]
    assert 'class="flash flash-error"' not in page  # said once, not also in a banner
    return page


@pytest.fixture
def admin(app, ctx):
    return client_as(app, "admin")


@pytest.fixture
def staff(app, ctx):
    return client_as(app, "staff")


def test_a_new_product_sent_empty(admin):
    w = f.workshop()
    db.session.commit()
    before = store_state()
    as_a_browser_sends_it = {"name": "", "slug": "", "description": "", "story": "",
                             "category_id": "0", "workshop_id": str(w.id), "status": "draft",
                             "impact_share": ""}  # fmt: skip
    assert_error_pattern(
        admin.post("/admin/products/new", data=as_a_browser_sends_it),
        [("name", "Enter the product's name."),
         ("impact_share", "Enter the share for training accounts, like 10.")],
    )  # fmt: skip
    assert_error_pattern(
        admin.post("/admin/products/new", data={}),
        [("name", "Enter the product's name."),
         ("category_id", "Choose one of the categories, or No category."),
         ("workshop_id", "Choose the workshop that makes it."),
         ("impact_share", "Enter the share for training accounts, like 10.")],
    )  # fmt: skip
    too_long = admin.post("/admin/products/new", data={**as_a_browser_sends_it,
                          "name": "N" * 201, "impact_share": "10"})  # fmt: skip
    assert_error_pattern(too_long, [("name", "A name is at most 200 characters.")])
    assert changes(before, store_state()) == {}


def test_a_content_page_with_an_empty_title(admin):
    response = admin.post("/admin/pages/contact", data={"title": "", "body": "Write to us."})
    page = assert_error_pattern(response, [("title", "Enter a title.")])
    assert "<title>Error: Edit Contact us · " in page
    assert 'value=""' in re.search(r'<input[^>]*id="title"[^>]*>', page).group(0)
    long = admin.post("/admin/pages/contact", data={"title": "T" * 121, "body": "x"})
    assert_error_pattern(long, [("title", "A title is at most 120 characters.")])


def test_a_new_trainee_sent_empty(staff):
    w = f.workshop()
    db.session.commit()
    before = store_state()
    as_a_browser_sends_it = {"code": "", "legal_name": "", "alias": "", "cohort": "",
                             "workshop_id": str(w.id)}  # fmt: skip
    assert_error_pattern(
        staff.post("/staff/trainees/new", data=as_a_browser_sends_it),
        [("code", "Enter her trainee code, like KH-RS-001."),
         ("legal_name", "Enter her legal name.")],
    )  # fmt: skip
    assert_error_pattern(
        staff.post("/staff/trainees/new", data={}),
        [("code", "Enter her trainee code, like KH-RS-001."),
         ("legal_name", "Enter her legal name."), ("workshop_id", "Choose her workshop.")],
    )  # fmt: skip
    consent = {**as_a_browser_sends_it, "code": "KH-1", "legal_name": "Dara Legal",
               "alias_consent": "y"}  # fmt: skip
    assert_error_pattern(
        staff.post("/staff/trainees/new", data=consent),
        [("alias", "The public alias is needed when she consents to an alias being shown.")],
    )
    assert changes(before, store_state()) == {}


def test_a_batch_sent_empty(admin):
    w = f.workshop()
    f.product(w)
    db.session.commit()
    before = store_state()
    response = admin.post("/admin/batches/new", data={
        "workshop": str(w.id), "code": "", "sku": "", "quantity": "", "produced_month": "",
        "materials": "", "makers": ""})  # fmt: skip
    assert_error_pattern(response, [
        ("code", "Enter the batch code, as printed on the tag, like MS-2026-03-BHB-N."),
        ("sku", "Choose the variant the batch is of."),
        ("quantity", "Enter the number of units made, like 24."),
        ("produced_month", "Enter the month the batch was made, like 2026-03."),
    ])  # fmt: skip
    assert changes(before, store_state()) == {}


def test_a_refused_batch_says_each_rule_beside_its_field(admin):
    w = f.workshop()
    variant = f.product(w).variants[0]
    maker = f.trainee(w)
    db.session.commit()
    form = {"workshop": str(w.id), "code": "B-1", "sku": variant.sku, "quantity": "0",
            "produced_month": "2999-01", "materials": "", "makers": "",
            f"maker-{maker.id}": "lots"}  # fmt: skip
    page = assert_error_pattern(admin.post("/admin/batches/new", data=form), [
        (f"maker-{maker.id}", f"Weight of {maker.code}: 'lots' is not a whole number (digits 0-9)."),
    ])  # fmt: skip
    assert re.search(rf'id="maker-{maker.id}"[^>]*value="lots"', page)  # kept as typed
    form[f"maker-{maker.id}"] = "1"
    assert_error_pattern(admin.post("/admin/batches/new", data=form), [
        ("quantity", "Quantity: must be at least 1 and at most 100000, got 0."),
        ("produced_month", "Month produced: 2999-01 is in the future."),
    ])  # fmt: skip


def test_the_other_back_office_forms_sent_empty(admin, staff):
    w = f.workshop()
    product = f.product(w)
    trainee = f.trainee(w)
    variant = stocked_variant(quantity=3)
    order = paid_order([(variant, 1)])
    db.session.commit()
    before = store_state()
    for client, path, data, expected in (
        (admin, "/admin/categories", {"name": "", "slug": ""},
         [("name", "Enter the category's name."), ("slug", "Enter the address name, like bags.")]),
        (admin, "/admin/categories", {"name": "Bags", "slug": "Bags!"},
         [("slug", "An address name has only lower-case letters, digits and single dashes, "
                   "like silk-scarf.")]),
        (admin, f"/admin/products/{product.id}/variants", {"sku": "", "options": "", "price": ""},
         [("sku", "Enter the SKU, like TOTE-BHB-NAT."), ("price", "Enter the price, like 24.00.")]),
        (admin, f"/admin/orders/{order.id}/ship", {"tracking_number": ""},
         [("tracking_number", "Enter the tracking number the carrier gave the parcel.")]),
        (admin, f"/admin/stock/{variant.id}/adjust", {"quantity": "", "reason": ""},
         [("quantity", "Enter a whole number: the units lost (like -2) or found (like 3)."),
          ("reason", "A stock adjustment needs a reason: say why the count changed.")]),
        (staff, f"/staff/trainees/{trainee.id}/goals", {"title": "", "target_amount": ""},
         [("title", "Say what the goal is."),
          ("target_amount", "Enter the target amount, like 120.00.")]),
        (staff, f"/staff/trainees/{trainee.id}/withdrawals",
         {"withdrawal-amount": "", "withdrawal-purpose": "course_fees", "withdrawal-payee": ""},
         [("withdrawal-amount", "Enter the amount, like 45.00."),
          ("withdrawal-payee", "Say which school, institution or supplier is paid.")]),
        (staff, f"/staff/trainees/{trainee.id}/corrections",
         {"correction-amount": "", "correction-reason": "", "correction-request_key": "k"},
         [("correction-amount", "Enter the amount, like 12.50 or -12.50."),
          ("correction-reason", "A correction needs a reason.")]),
        (staff, f"/staff/workshops/{w.id}/vetting",
         {"kind": "visit", "occurred_on": "", "outcome": "passed"},
         [("occurred_on", "Enter the date it happened, like 2026-03-01.")]),
        (staff, f"/staff/workshops/{w.id}/details", {"details-head_count": "-4"},
         [("details-head_count", "The head count must be between 0 and 100000.")]),
    ):  # fmt: skip
        assert_error_pattern(client.post(path, data=data), expected)
    assert changes(before, store_state()) == {}


def test_a_slug_taken_is_said_once(admin):
    w = f.workshop()
    f.product(w, slug="zip-pouch")
    db.session.commit()
    form = {"name": "Zip Pouch", "slug": "zip-pouch", "description": "", "story": "",
            "category_id": "0", "workshop_id": str(w.id), "status": "draft", "impact_share": "10"}  # fmt: skip
    page = assert_error_pattern(admin.post("/admin/products/new", data=form), [
        ("slug", "Another product already uses the address name zip-pouch: choose another, "
                 "like zip-pouch-2."),
    ])  # fmt: skip
    assert "Nothing was saved" not in page


def test_a_trainee_code_taken_is_said_once(staff):
    w = f.workshop()
    f.trainee(w, code="KH-7")
    db.session.commit()
    form = {"code": "KH-7", "legal_name": "Dara Legal", "workshop_id": str(w.id)}
    page = assert_error_pattern(staff.post("/staff/trainees/new", data=form), [
        ("code", "The code 'KH-7' is already used by another trainee."),
    ])  # fmt: skip
    assert "Nothing was saved" not in page
