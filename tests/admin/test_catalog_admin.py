"""Admins manage products, variants, categories and images."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from shop.audit.models import AuditEntry
from shop.catalog.models import Category, Product, ProductImage, ProductStatus
from shop.extensions import db
from tests import factories as f
from tests.admin.test_back_office import admin_client  # noqa: F401  (fixture)
from tests.confirming import confirmed


def _png(width=800, height=600, extra: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 30, 60)).save(out, "PNG")
    return out.getvalue() + extra


def test_create_publish_and_reprice_a_product(app, ctx, admin_client):  # noqa: F811
    w = f.workshop(name="Loom House")
    db.session.commit()
    form = {"name": "Woven Scarf", "slug": "woven-scarf", "description": "Soft.", "story": "",
            "category_id": "0", "workshop_id": str(w.id), "status": "active", "impact_share": "12.5"}  # fmt: skip
    early = admin_client.post("/admin/products/new", data=form)
    assert early.status_code == 400
    assert "Add a variant with a price before publishing." in early.get_data(as_text=True)
    bad_share = admin_client.post("/admin/products/new", data={**form, "impact_share": "101"})
    assert bad_share.status_code == 400 and "from 0 to 100" in bad_share.get_data(as_text=True)
    created = admin_client.post("/admin/products/new", data={**form, "status": "draft"})
    assert created.status_code == 302, created.get_data(as_text=True)[-1500:]
    product = db.session.scalars(select(Product).where(Product.slug == "woven-scarf")).one()
    assert product.impact_share_bps == 1250 and product.status == ProductStatus.DRAFT
    assert app.test_client().get("/products/woven-scarf").status_code == 404

    bad_price = admin_client.post(f"/admin/products/{product.id}/variants",
                                  data={"sku": "SCARF-1", "options": "colour=red", "price": "12.345"})  # fmt: skip
    assert bad_price.status_code == 400
    admin_client.post(f"/admin/products/{product.id}/variants",
                      data={"sku": "SCARF-1", "options": "colour=red", "price": "30.00"})  # fmt: skip
    assert admin_client.post(f"/admin/products/{product.id}", data=form).status_code == 302
    assert app.test_client().get("/products/woven-scarf").status_code == 200

    variant_id = db.session.get(Product, product.id).variants[0].id
    admin_client.post(
        f"/admin/variants/{variant_id}/price", data={"options": "colour=red", "price": "32.50"}
    )
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "variant.price")).one()
    assert (entry.before["price"], entry.after["price"]) == (3000, 3250)
    updates = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "product.update")
    ).all()
    assert updates[-1].after == {"status": "active"}


def test_images_are_checked_reencoded_and_stored_under_a_name_we_choose(app, ctx, admin_client):  # noqa: F811
    w = f.workshop()
    product = f.product(w, price=1000)
    db.session.commit()
    media = Path(app.config["MEDIA_ROOT"])
    images_before = {
        i.id
        for i in db.session.scalars(
            select(ProductImage).where(ProductImage.product_id == product.id)
        )
    }

    def upload(data: bytes, name: str, alt: str = "A red scarf folded on a table"):
        return admin_client.post(
            f"/admin/products/{product.id}/images",
            data={"image": (io.BytesIO(data), name), "alt_text": alt},
            content_type="multipart/form-data", follow_redirects=True,
        )  # fmt: skip

    text_file = upload(b"<script>alert(1)</script>", "photo.png")
    assert "not an image we can read" in text_file.get_data(as_text=True)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    assert "Only JPEG, PNG and WebP" in upload(gif.getvalue(), "a.gif").get_data(as_text=True)
    big = upload(b"\x89PNG" + b"0" * (5 * 1024 * 1024 + 10), "big.png")
    assert "larger than 5 MB" in big.get_data(as_text=True)
    assert {
        i.id
        for i in db.session.scalars(
            select(ProductImage).where(ProductImage.product_id == product.id)
        )
    } == images_before

    ok = upload(_png(3000, 1500, extra=b"<?php echo 'hidden'; ?>"), "../../../etc/evil.php.png")
    assert "Image added" in ok.get_data(as_text=True)
    image = db.session.scalars(
        select(ProductImage).where(
            ProductImage.product_id == product.id, ProductImage.id.not_in(images_before)
        )
    ).one()
    stored = (media / image.filename).read_bytes()
    # Named by its content alone: nothing of the uploader's file name, nor the product's.
    stem = f"products/{hashlib.sha256(stored).hexdigest()[:32]}"
    assert image.filename == f"{stem}.jpg"
    assert b"<?php" not in stored  # re-encoded: what rode along is gone
    assert (image.width, image.height) == (1600, 800)
    # Its responsive copies were made once the upload was committed, never enlarged.
    assert image.derivative_widths == "320,640,1280,1600"
    copies = sorted(p.name for p in (media / "products").glob(f"{stem[9:]}-*"))
    assert len(copies) == 8, copies
    with Image.open(media / f"{stem}-640.webp") as copy:
        assert (copy.format, copy.size) == ("WEBP", (640, 320))
    with Image.open(media / f"{stem}-320.jpg") as copy:
        assert (copy.format, copy.size) == ("JPEG", (320, 160))
    served = app.test_client().get(f"/media/{image.filename}")
    assert served.status_code == 200
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert app.test_client().get("/media/../../etc/passwd").status_code == 404

    again = upload(_png(3000, 1500, extra=b"other trailing bytes"), "again.png")
    assert "already shown on" in again.get_data(as_text=True)

    image_id, filename = image.id, image.filename
    confirmed(admin_client, f"/admin/images/{image_id}/delete")
    assert db.session.get(ProductImage, image_id) is None
    assert not (media / filename).exists()
    assert list((media / "products").glob(f"{stem[9:]}*")) == []


def test_categories_can_be_added_once(app, ctx, admin_client):  # noqa: F811
    assert (
        admin_client.post(
            "/admin/categories", data={"name": "Scarves", "slug": "scarves"}
        ).status_code
        == 302
    )
    again = admin_client.post("/admin/categories", data={"name": "Scarves 2", "slug": "scarves"})
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    bad = admin_client.post("/admin/categories", data={"name": "X", "slug": "Not A Slug"})
    assert bad.status_code == 400
    assert (
        db.session.scalars(select(Category).where(Category.slug == "scarves")).one().name
        == "Scarves"
    )


def test_a_product_with_batches_cannot_move_to_another_workshop(app, ctx, admin_client):  # noqa: F811
    """Issue 9, defect 8: the product and batch pages must name the same workshop."""
    home, elsewhere = f.workshop(name="Loom House"), f.workshop(name="Elsewhere")
    product = f.product(home, price=1000)
    f.batch(product.variants[0], quantity=3)
    unbatched = f.product(home, price=1000)
    db.session.commit()

    def edit(p, workshop):
        return admin_client.post(f"/admin/products/{p.id}", data={
            "name": p.name, "slug": p.slug, "description": "", "story": "", "category_id": "0",
            "workshop_id": str(workshop.id), "status": "active", "impact_share": "10"})  # fmt: skip

    refused = edit(product, elsewhere)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert re.search(r'id="workshop_id-error">.*Its batches were made at the workshop it names '
                     r"now, so it cannot move to another workshop", page)  # fmt: skip
    assert page.count("cannot move to another workshop") == 2  # beside it, and in the summary
    assert db.session.get(Product, product.id).workshop_id == home.id
    assert not db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "product.update")
    ).all()
    assert edit(product, home).status_code == 302  # other edits still work
    assert edit(unbatched, elsewhere).status_code == 302  # no batches yet: it may move
    assert db.session.get(Product, unbatched.id).workshop_id == elsewhere.id


def test_variants_of_one_product_must_be_told_apart_by_their_options(app, ctx, admin_client):  # noqa: F811
    """Buyers choose a variant by its options: the form refuses a second variant with the
    same options, or with none beside one that has some, and a change that makes two
    variants alike; nothing is saved."""
    product = f.product(f.workshop(), variants=1)  # its variant: size=S0
    db.session.commit()
    url = f"/admin/products/{product.id}/variants"
    same = admin_client.post(url, data={"sku": "DUP-1", "options": "size=s0", "price": "10.00"})
    assert same.status_code == 400
    assert "already has the options size=s0" in same.get_data(as_text=True)
    none = admin_client.post(url, data={"sku": "DUP-2", "options": "", "price": "10.00"})
    assert none.status_code == 400 and "tell them apart" in none.get_data(as_text=True)
    empty = admin_client.post(url, data={"sku": "DUP-3", "options": "size=", "price": "10.00"})
    assert empty.status_code == 400
    other = admin_client.post(url, data={"sku": "DUP-4", "options": "size=L", "price": "10.00"})
    assert other.status_code == 302
    db.session.expire_all()
    product = db.session.get(Product, product.id)
    assert sorted(v.sku for v in product.variants) == sorted([product.variants[0].sku, "DUP-4"])
    second = next(v for v in product.variants if v.sku == "DUP-4")
    page = admin_client.post(f"/admin/variants/{second.id}/price",
                             data={"options": "size=S0", "price": "10.00"}, follow_redirects=True)  # fmt: skip
    assert "already has the options" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(second), second.id).options == {"size": "L"}


def test_variants_that_differ_only_in_what_nobody_can_see_are_refused(app, ctx, admin_client):  # noqa: F811
    """Attack 2, finding 13: fullwidth letters, a zero-width joiner, case and extra spaces
    do not tell two variants apart; the form and the import share the one rule."""
    product = f.product(f.workshop(), variants=1)  # its variant: size=S0
    db.session.commit()
    url = f"/admin/products/{product.id}/variants"
    for n, options in enumerate(
        ["size=ｓ０", "size=S\u200d0", "Size = s0 ", "ｓｉｚｅ=S0", "size=\u200bS0\ufeff"]
    ):
        refused = admin_client.post(
            url, data={"sku": f"LOOK-{n}", "options": options, "price": "10.00"}
        )
        assert refused.status_code == 400, options
        assert "already has the options" in refused.get_data(as_text=True)
    invisible = admin_client.post(
        url, data={"sku": "LOOK-Z", "options": "size=\u200d", "price": "10.00"}
    )
    assert invisible.status_code == 400 and "Every option needs a value" in invisible.get_data(
        as_text=True
    )
    # An order line keeps the options as buyers read them, at most 200 characters.
    too_long = admin_client.post(
        url, data={"sku": "LONG-1", "options": "colour=" + "red " * 60, "price": "10.00"}
    )
    assert too_long.status_code == 400
    assert "The options are too long" in too_long.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.get(Product, product.id).variants) == 1


def test_variants_that_differ_only_by_look_alike_letters_are_refused(app, ctx, admin_client):  # noqa: F811
    """Attack 3, finding F: Cyrillic or Greek letters drawn like Latin ones ('М' for 'M',
    'е' in 'rеd') do not tell two variants apart, folded as the alias rule folds them;
    letters of other scripts and real differences still do."""
    product = f.product(f.workshop(), variants=1)
    db.session.commit()
    url = f"/admin/products/{product.id}/variants"
    kept = admin_client.post(url, data={"sku": "LA-M", "options": "size=M", "price": "10.00"})
    assert kept.status_code == 302
    red = admin_client.post(url, data={"sku": "LA-R", "options": "colour=red", "price": "10.00"})
    assert red.status_code == 302
    for n, options in enumerate(["size=\u041c", "colour=r\u0435d", "\u0455ize=M", "size=\u039c"]):
        refused = admin_client.post(
            url, data={"sku": f"LA-{n}", "options": options, "price": "10.00"}
        )
        assert refused.status_code == 400, options
        assert "already has the options" in refused.get_data(as_text=True)
    khmer = admin_client.post(url, data={"sku": "LA-K", "options": "ពណ៌=ក្រហម", "price": "10.00"})
    assert khmer.status_code == 302  # another script, not a look-alike: a real option
    db.session.expire_all()
    assert len(db.session.get(Product, product.id).variants) == 4
