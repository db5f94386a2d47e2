"""A variant may carry its GTIN (the number under its barcode): 8, 12, 13 or 14 digits
with a valid GS1 check digit, kept as 14 digits, one variant per GTIN. The admin's form
and the catalog import ask the one rule (admin_services.gtin_problem) and say what is
wrong; the product page tells search engines (JSON-LD gtin14)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.audit.models import AuditEntry
from shop.catalog.admin_services import gtin_check_digit, gtin_problem, normalised_gtin
from shop.catalog.models import Product, Variant
from shop.extensions import db
from tests import factories as f
from tests.admin.test_back_office import admin_client  # noqa: F401  (fixture)
from tests.test_imports import CATALOG, CATALOG_HEADER, WORKSHOPS, run_import  # noqa: F401

EAN13 = "4006381333931"  # a GTIN-13 with a valid check digit
UPC12 = "036000291452"  # a GTIN-12 (UPC-A)
EAN8 = "96385074"  # a GTIN-8


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        (EAN13, "04006381333931"),
        (UPC12, "00036000291452"),
        (EAN8, "00000096385074"),
        ("10012345678902", "10012345678902"),  # a GTIN-14 (a case of 1 + GTIN-13)
        ("4 006381 333931", "04006381333931"),  # as printed under the barcode
        ("0-36000-29145-2", "00036000291452"),
        ("", None),
        ("   ", None),
    ],
)
def test_a_valid_gtin_is_kept_as_fourteen_digits(typed, kept):
    assert gtin_problem(typed) is None
    assert normalised_gtin(typed) == kept


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("4006381333932", "GTIN 4006381333932 has a wrong check digit: the last digit should be 1"),
        ("036000291453", "GTIN 036000291453 has a wrong check digit: the last digit should be 2"),
        ("96385070", "GTIN 96385070 has a wrong check digit: the last digit should be 4"),
        ("12345", "GTIN 12345 has 5 digits: a GTIN has 8, 12, 13 or 14"),
        ("400638133393100", "has 15 digits"),
        ("40063813339A1", "GTIN 40063813339A1 is not a number: a GTIN has only the digits 0-9"),
        ("٤٠٠٦٣٨١٣٣٣٩٣١", "is not a number"),  # Arabic-Indic digits are not 0-9 here
        ("00000000", "all zeros"),
    ],
)
def test_a_wrong_gtin_is_refused_saying_what_is_wrong(typed, message):
    assert message in gtin_problem(typed)


def test_the_check_digit_is_computed_from_the_other_digits():
    # GS1's own example: 629104150021 -> 3 (weights 3,1,3,... from the right).
    assert gtin_check_digit("629104150021") == 3
    assert gtin_check_digit("400638133393") == 1
    for body in ("0000001", "1234567", "9999999999999"):
        assert gtin_problem(body + str(gtin_check_digit(body))) is None


def test_the_admin_adds_and_changes_a_variants_gtin(app, ctx, admin_client):  # noqa: F811
    product = f.product(f.workshop(), variants=1)
    db.session.commit()
    url = f"/admin/products/{product.id}/variants"
    wrong = admin_client.post(
        url, data={"sku": "G-1", "options": "size=L", "price": "10.00", "gtin": "4006381333932"}
    )
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    beside = re.search(r'<p class="error-text" id="gtin-error">(.*?)</p>', page, re.S)
    assert beside and "the last digit should be 1" in beside.group(1)
    assert 'value="4006381333932"' in page and 'value="G-1"' in page  # what was typed
    assert db.session.scalar(select(Variant.id).where(Variant.sku == "G-1")) is None

    added = admin_client.post(
        url, data={"sku": "G-1", "options": "size=L", "price": "10.00", "gtin": "4 006381 333931"}
    )
    assert added.status_code == 302
    variant = db.session.scalars(select(Variant).where(Variant.sku == "G-1")).one()
    assert variant.gtin == "04006381333931"

    # The same GTIN on another variant is refused, naming the variant that has it.
    again = admin_client.post(
        url, data={"sku": "G-2", "options": "size=XL", "price": "10.00", "gtin": EAN13}
    )
    assert again.status_code == 400
    assert "already the GTIN of G-1" in again.get_data(as_text=True)

    # The variant's own row: a wrong one comes back on that row, typed values kept.
    other = product.variants[0]
    row = admin_client.post(
        f"/admin/variants/{other.id}/price",
        data={"options": "size=S0", "price": "31.00", "gtin": "036000291453"},
    )
    page = row.get_data(as_text=True)
    assert row.status_code == 400
    beside = re.search(rf'<p class="error-text" id="gtin-{other.id}-error">(.*?)</p>', page, re.S)
    assert beside and "the last digit should be 2" in beside.group(1)
    assert f'id="gtin-{other.id}" name="gtin" value="036000291453"' in page
    assert f'id="price-{other.id}" name="price" value="31.00"' in page
    assert 'aria-invalid="true"' in page
    db.session.expire_all()
    assert db.session.get(Variant, other.id).gtin is None
    assert db.session.get(Variant, other.id).price != 3100

    taken = admin_client.post(
        f"/admin/variants/{other.id}/price",
        data={"options": "size=S0", "price": "31.00", "gtin": EAN13},
    )
    assert taken.status_code == 400 and "already the GTIN of G-1" in taken.get_data(as_text=True)

    saved = admin_client.post(
        f"/admin/variants/{other.id}/price",
        data={"options": "size=S0", "price": "31.00", "gtin": UPC12},
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Variant, other.id).gtin == "00036000291452"
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "variant.price").order_by(AuditEntry.id)
    ).all()[-1]
    assert (entry.before["gtin"], entry.after["gtin"]) == (None, "00036000291452")

    # Cleared, and only the GTIN changed: its own audit entry.
    cleared = admin_client.post(
        f"/admin/variants/{other.id}/price", data={"options": "size=S0", "price": "31.00"}
    )
    assert cleared.status_code == 302
    db.session.expire_all()
    assert db.session.get(Variant, other.id).gtin is None
    assert db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id.desc())).first() == (
        "variant.gtin"
    )


def test_the_database_keeps_one_variant_per_gtin(ctx):
    product = f.product(f.workshop(), variants=2)
    product.variants[0].gtin = "04006381333931"
    db.session.flush()
    product.variants[1].gtin = "04006381333931"
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def _catalog(app, run_import, body: str):  # noqa: F811
    return run_import("catalog", CATALOG_HEADER.rstrip("\n") + ",gtin\n" + body)


def test_the_catalog_import_takes_an_optional_gtin_column(app, run_import):  # noqa: F811
    assert run_import("workshops", WORKSHOPS).exit_code == 0
    assert run_import("catalog", CATALOG).exit_code == 0  # without the column, as before
    rows = (
        "tote,Tote,Bags,Canvas.,Story.,1000,active,riverside,TOTE-N,colour=natural,24.00,USD,{a}\n"
        "tote,Tote,Bags,Canvas.,Story.,1000,active,riverside,TOTE-B,colour=black;size=L,24.50,USD,{b}\n"
        "necklace,Necklace,Jewellery,Silver.,,1500,draft,lantern,NECK-1,,48,USD,{c}\n"
    )
    bad = _catalog(app, run_import, rows.format(a="4006381333932", b="123", c=EAN13))
    assert bad.exit_code == 1
    assert (
        "row 2, column 'gtin': GTIN 4006381333932 has a wrong check digit: the last digit "
        "should be 1" in bad.output
    )
    assert "row 3, column 'gtin': GTIN 123 has 3 digits" in bad.output
    twice = _catalog(app, run_import, rows.format(a=EAN13, b="04006381333931", c=""))
    assert twice.exit_code == 1
    assert "row 3, column 'gtin': GTIN '04006381333931' is already on row 2" in twice.output
    with app.app_context():
        assert db.session.scalars(select(Variant.gtin)).all() == [None, None, None]

    good = _catalog(app, run_import, rows.format(a=EAN13, b=UPC12, c=""))
    assert good.exit_code == 0, good.output
    assert "2 updated, 1 unchanged" in good.output

    def gtins():
        with app.app_context():
            return dict(db.session.execute(select(Variant.sku, Variant.gtin)).all())

    assert gtins() == {"TOTE-N": "04006381333931", "TOTE-B": "00036000291452", "NECK-1": None}
    # A file without the column leaves them as they are.
    assert run_import("catalog", CATALOG).exit_code == 0
    assert gtins()["TOTE-N"] == "04006381333931"
    # Two variants of the file swap theirs: the file as a whole is what counts.
    swapped = _catalog(app, run_import, rows.format(a=UPC12, b=EAN13, c=""))
    assert swapped.exit_code == 0, swapped.output
    assert gtins() == {"TOTE-N": "00036000291452", "TOTE-B": "04006381333931", "NECK-1": None}
    # A GTIN held by a variant the file does not name stays its own.
    other = CATALOG_HEADER.rstrip("\n") + ",gtin\n"
    other += "scarf,Scarf,Bags,Silk.,,1000,draft,riverside,SCARF-1,,30,USD,4006381333931\n"
    refused = run_import("catalog", other)
    assert refused.exit_code == 1
    assert "GTIN 04006381333931 is already the GTIN of TOTE-B" in refused.output
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.summary == "TOTE-N").order_by(AuditEntry.id)
        ).all()
        assert entries[-1].action == "variant.gtin"
        assert entries[-1].before["gtin"] == "04006381333931"  # not the moment it was freed


def test_the_product_page_tells_search_engines_the_gtin(client, ctx):
    product = f.product(f.workshop(), variants=2, slug="with-gtin")
    product.variants[0].gtin = "04006381333931"
    db.session.commit()
    html = client.get("/products/with-gtin").get_data(as_text=True)
    data = json.loads(re.search(r'application/ld\+json">(.*?)</script>', html, re.S).group(1))
    offers = {o["sku"]: o for o in data["offers"]}
    assert offers[product.variants[0].sku]["gtin14"] == "04006381333931"
    assert "gtin14" not in offers[product.variants[1].sku] and "gtin14" not in data
    single = f.product(f.workshop(), variants=1, slug="one-gtin")
    single.variants[0].gtin = "00036000291452"
    db.session.commit()
    html = client.get("/products/one-gtin").get_data(as_text=True)
    data = json.loads(re.search(r'application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert data["gtin14"] == "00036000291452"
    with_product = db.session.scalars(select(Product).where(Product.slug == "one-gtin")).one()
    assert with_product.variants[0].gtin == "00036000291452"
