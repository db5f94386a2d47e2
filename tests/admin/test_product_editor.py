"""The product editor (issue 11, item 12): a slug made from the name and a clear word when
it is taken, proper text areas, a gallery reordered and described without script whose
alt texts the storefront uses, and a batch form offering the workshop's variants and its
makers by code and alias, never by legal name. Bad input: a clear message, nothing
written."""

from __future__ import annotations

import html
import io
import re

from PIL import Image
from sqlalchemy import select

from shop.catalog.models import Product, ProductImage
from shop.extensions import db
from shop.provenance.models import Batch
from tests import factories as f
from tests.admin.test_form_errors import assert_error_pattern
from tests.confirming import confirmation_form
from tests.conftest import client_as
from tests.store_state import changes, store_state


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _words(response) -> str:
    """What the page says, tags left out (a button's hidden words included)."""
    return re.sub(r"<[^>]+>", "", _text(response))


def _form(w, **values) -> dict:
    return {"name": "Block-Print T-Shirt (Indigo)", "slug": "", "description": "Soft.",
            "story": "", "category_id": "0", "workshop_id": str(w.id), "status": "draft",
            "impact_share": "10", **values}  # fmt: skip


# --- The slug --------------------------------------------------------------------------


def test_an_empty_slug_is_made_from_the_name(app, ctx):
    w = f.workshop()
    db.session.commit()
    admin = client_as(app, "admin")
    assert admin.post("/admin/products/new", data=_form(w)).status_code == 302
    slugs = db.session.scalars(select(Product.slug).where(Product.workshop_id == w.id)).all()
    assert slugs == ["block-print-t-shirt-indigo"]
    accented = _form(w, name="Écharpe tissée à la main")
    assert admin.post("/admin/products/new", data=accented).status_code == 302
    assert db.session.scalar(select(Product.id).where(Product.slug == "echarpe-tissee-a-la-main"))


def test_a_taken_slug_is_refused_beside_its_field_with_a_free_one_suggested(app, ctx):
    w = f.workshop()
    f.product(w, slug="block-print-t-shirt-indigo")
    f.product(w, slug="block-print-t-shirt-indigo-2")
    db.session.commit()
    admin = client_as(app, "admin")
    before = store_state()
    for typed in ("", "block-print-t-shirt-indigo"):  # made from the name, or typed
        page = admin.post("/admin/products/new", data=_form(w, slug=typed))
        assert page.status_code == 400
        error = re.search(
            r'<p class="error-text" id="slug-error"><span class="visually-hidden">Error:</span> ([^<]*)</p>',
            _text(page),
        )
        assert error, "the message stands beside the slug field"
        assert error.group(1) == (
            "Another product already uses the address name block-print-t-shirt-indigo: "
            "choose another, like block-print-t-shirt-indigo-3."
        )
        slug_input = re.search(r'<input[^>]*id="slug"[^>]*>', _text(page)).group(0)
        assert 'aria-invalid="true"' in slug_input and "slug-error" in slug_input
    assert changes(before, store_state()) == {}


def test_a_name_with_no_letters_for_an_address_asks_for_a_slug(app, ctx):
    w = f.workshop()
    db.session.commit()
    admin = client_as(app, "admin")
    before = store_state()
    page = admin.post("/admin/products/new", data=_form(w, name="កាបូប"))
    assert page.status_code == 400
    assert "The name has no letters an address can use: enter an address name" in _text(page)
    assert changes(before, store_state()) == {}
    named = admin.post("/admin/products/new", data=_form(w, name="កាបូប", slug="khmer-bag"))
    assert named.status_code == 302


def test_the_editor_has_room_to_write_in(app, ctx):
    product = f.product(f.workshop(), variants=2)
    db.session.commit()
    page = _text(client_as(app, "admin").get(f"/admin/products/{product.id}"))
    assert re.search(r'<textarea[^>]*id="description"[^>]*rows="6"', page)
    assert re.search(r'<textarea[^>]*id="story"[^>]*rows="10"', page)
    assert 'size="16"' not in page  # the option box is as wide as its column, not 16 letters
    assert "Leave it empty to make it from the name" in page


# --- The gallery -----------------------------------------------------------------------


def _gallery(product_id: int) -> list[tuple[int, str]]:
    return [
        (i.id, i.alt_text)
        for i in db.session.scalars(
            select(ProductImage)
            .where(ProductImage.product_id == product_id)
            .order_by(ProductImage.position, ProductImage.id)
        )
    ]


def _shop_alts(app, slug: str) -> list[str]:
    page = app.test_client().get(f"/products/{slug}").get_data(as_text=True)
    gallery = page.split("<main", 1)[1]
    return [html.unescape(a) for a in re.findall(r'<img[^>]* alt="([^"]*)"', gallery)]


def test_the_gallery_is_reordered_with_buttons_and_the_shop_follows(app, ctx):
    product = f.product(f.workshop(), images=3)
    for image, alt in zip(product.images, ("Front", "Back", "Folded"), strict=True):
        image.alt_text, image.position = alt, 0  # as uploads before ordering left them
    db.session.commit()
    first, second, third = (i.id for i, _ in zip(product.images, range(3), strict=False))
    admin = client_as(app, "admin")
    page = _words(admin.get(f"/admin/products/{product.id}"))
    assert "Image 1 of 3 · shown first" in page and "Move up image 1" not in page
    assert "Move down image 3" not in page and "Move up image 3" in page

    assert admin.post(f"/admin/images/{third}/move", data={"direction": "up"}).status_code == 302
    assert [i for i, _ in _gallery(product.id)] == [first, third, second]
    admin.post(f"/admin/images/{third}/move", data={"direction": "up"})
    assert [i for i, _ in _gallery(product.id)] == [third, first, second]
    admin.post(f"/admin/images/{third}/move", data={"direction": "up"})  # first already
    admin.post(f"/admin/images/{second}/move", data={"direction": "down"})  # last already
    assert [i for i, _ in _gallery(product.id)] == [third, first, second]
    assert _shop_alts(app, product.slug)[:3] == ["Folded", "Front", "Back"]

    before = store_state()
    bad = admin.post(f"/admin/images/{first}/move", data={"direction": "sideways"})
    assert bad.status_code == 400
    assert changes(before, store_state()) == {}


def test_alt_text_is_required_and_is_what_the_shop_says(app, ctx):
    product = f.product(f.workshop(), images=1)
    image = product.images[0]
    db.session.commit()
    image_id = image.id
    admin = client_as(app, "admin")
    before = store_state()
    for empty in ("", "   "):
        refused = admin.post(f"/admin/images/{image_id}/alt", data={"alt_text": empty})
        assert refused.status_code == 400
        assert re.search(rf'id="alt-{image_id}-error">.*Describe the image for people who '
                         "cannot see it", _text(refused))  # fmt: skip
    too_long = admin.post(f"/admin/images/{image_id}/alt", data={"alt_text": "x" * 301})
    assert too_long.status_code == 400
    assert "Alt text is at most 300 characters." in _text(too_long)
    assert re.search(rf'id="alt-{image_id}"[^>]*value="{"x" * 301}"', _text(too_long))  # kept
    assert changes(before, store_state()) == {}

    said = "A natural tote with a <blue> block-printed border"
    assert admin.post(f"/admin/images/{image_id}/alt", data={"alt_text": said}).status_code == 302
    assert _gallery(product.id) == [(image_id, said)]
    assert said in _shop_alts(app, product.slug)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def test_an_upload_refused_says_why_beside_its_field_and_keeps_the_alt_text(app, ctx):
    product = f.product(f.workshop())
    db.session.commit()
    admin = client_as(app, "admin")
    before = store_state()

    def upload(data: bytes, alt: str):
        return admin.post(f"/admin/products/{product.id}/images",
                          data={"image": (io.BytesIO(data), "photo.png"), "alt_text": alt},
                          content_type="multipart/form-data")  # fmt: skip

    assert_error_pattern(
        upload(_png(), "   "),
        [("alt_text", "Describe the image for people who cannot see it (its alt text).")],
    )
    page = assert_error_pattern(
        upload(b"not a picture", "A tote, folded"),
        [("image", "The file is not an image we can read.")],
    )
    assert re.search(r'<input[^>]*id="alt_text"[^>]*value="A tote, folded"', page)  # kept
    assert re.search(r'<details class="panel" open><summary>Add an image', page)
    assert changes(before, store_state()) == {}


def test_an_image_without_alt_text_is_flagged(app, ctx):
    product = f.product(f.workshop(), images=2)
    product.images[1].alt_text = ""  # from before alt text was required
    db.session.commit()
    page = _text(client_as(app, "admin").get(f"/admin/products/{product.id}"))
    assert "1 image has no alt text: people using a screen reader hear nothing about it" in page
    assert page.count("no alt text</span>") == 1


def test_an_upload_whose_alt_text_says_nothing_is_refused(app, ctx):
    import io

    from PIL import Image

    product = f.product(f.workshop(), images=0)
    db.session.commit()
    data = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(data, "PNG")
    admin = client_as(app, "admin")
    before = store_state()
    answer = admin.post(
        f"/admin/products/{product.id}/images",
        data={"image": (io.BytesIO(data.getvalue()), "a.png"), "alt_text": "   "},
        content_type="multipart/form-data", follow_redirects=True,
    )  # fmt: skip
    assert "Describe the image for people who cannot see it" in _text(answer)
    assert changes(before, store_state()) == {}


# --- Removing an image (issue 11, item 9) ----------------------------------------------------------------------------


def test_removing_an_image_goes_through_its_confirmation_page_once(app, ctx):
    product = f.product(f.workshop(), images=2)
    image = product.images[0]
    db.session.commit()
    image_id = image.id
    admin = client_as(app, "admin")
    before = store_state()
    assert admin.post(f"/admin/images/{image.id}/delete").status_code == 400
    page = admin.get(f"/admin/images/{image.id}/delete")
    assert f"Remove this image from “{product.name}”?" in _text(page)
    assert re.search(rf'<img[^>]+alt="{re.escape(image.alt_text)}"', page.get_data(as_text=True))
    assert changes(before, store_state()) == {}
    action, fields = confirmation_form(page)
    assert admin.post(action, data=fields).status_code == 302
    assert db.session.get(ProductImage, image_id) is None
    after = store_state()
    again = admin.post(action, data=fields)
    assert again.status_code == 409 and "acted once only" in _text(again)
    assert changes(after, store_state()) == {}


# --- The batch form --------------------------------------------------------------------


def _batch_setting():
    here, elsewhere = f.workshop(name="Riverside"), f.workshop(name="Hillside")
    tee = f.product(here, name="Tee", variants=2)
    f.product(elsewhere, name="Scarf")
    makers = [
        f.trainee(here, code="KH-1", legal_name="Legal Name One", alias="Dara"),
        f.trainee(here, code="KH-2", legal_name="Legal Name Two", alias=""),
    ]
    left = f.trainee(here, code="KH-9", legal_name="Legal Name Left", active=False)
    other = f.trainee(elsewhere, code="HS-1", legal_name="Legal Name Other", alias="Mina")
    db.session.commit()
    return here, tee, makers, left, other


def test_the_batch_form_offers_the_workshops_variants_and_makers_by_code_and_alias(app, ctx):
    here, tee, _makers, left, other = _batch_setting()
    admin = client_as(app, "admin")
    first = _text(admin.get("/admin/batches/new"))
    assert "Riverside" in first and "Hillside" in first and "Continue" in first
    assert "KH-1" not in first  # no makers before a workshop is chosen
    page = _text(admin.get(f"/admin/batches/new?workshop={here.id}"))
    for v in tee.variants:
        assert f'<option value="{v.sku}">Tee (' in page and f"· {v.sku}</option>" in page
    assert "Scarf" not in page  # another workshop's product
    assert "KH-1" in page and "Dara" in page and "KH-2" in page
    assert left.code not in page and other.code not in page and "Mina" not in page
    assert "Legal Name" not in page  # never the legal name on an admin page
    assert 'label class="visually-hidden" for="maker-' in page


def test_makers_picked_from_the_list_are_recorded_with_their_weights(app, ctx):
    here, tee, makers, _left, _other = _batch_setting()
    admin = client_as(app, "admin")
    form = {"code": "RS-PICKED-1", "workshop": str(here.id), "sku": tee.variants[0].sku,
            "quantity": "3", "produced_month": "2026-01", "materials": "cotton",
            f"maker-{makers[0].id}": "2", f"maker-{makers[1].id}": ""}  # fmt: skip
    before = store_state()
    for bad, message in (
        (
            {f"maker-{makers[0].id}": "two"},
            f"Weight of {makers[0].code}: 'two' is not a whole number",
        ),
        ({f"maker-{makers[0].id}": "0"}, f"the weight of '{makers[0].code}' must be between 1"),
        ({"makers": f"{makers[0].code}:1"}, f"trainee '{makers[0].code}' is listed twice"),
        ({"sku": ""}, "Choose the variant the batch is of."),
        ({"workshop": "999999"}, "Choose the workshop that made the batch."),
    ):
        page = admin.post("/admin/batches/new", data={**form, **bad})
        assert page.status_code == 400 and message in _text(page), bad
    assert changes(before, store_state()) == {}
    refused = _text(admin.post("/admin/batches/new", data={**form, "quantity": "0"}))
    assert re.search(rf'id="maker-{makers[0].id}"[^>]*value="2"', refused)  # kept as typed

    assert admin.post("/admin/batches/new", data=form).status_code == 302
    batch = db.session.scalars(select(Batch).where(Batch.code == "RS-PICKED-1")).one()
    assert [(m.trainee_id, m.weight) for m in batch.makers] == [(makers[0].id, 2)]


def test_the_editor_and_the_batch_form_cost_the_same_statements_whatever_the_size(
    app, ctx, count_queries
):
    here, tee, _makers, _left, _other = _batch_setting()
    admin = client_as(app, "admin")
    paths = [f"/admin/products/{tee.id}", "/admin/batches/new",
             f"/admin/batches/new?workshop={here.id}"]  # fmt: skip

    def counts() -> list[int]:
        result = []
        for path in paths:
            with count_queries() as counter:
                assert admin.get(path).status_code == 200, path
            result.append(counter.count)
        return result

    small = counts()
    added = []
    for i in range(30):
        added.append(f.trainee(here).code)
        f.product(here, variants=2, images=0)
        tee.images.append(ProductImage(filename=f"products/extra-{i}.jpg", alt_text=f"Extra {i}",
                                       width=100, height=100, position=i + 1))  # fmt: skip
    f.product(f.workshop(), variants=3)
    db.session.commit()
    assert counts() == small, (small, counts())
    listed = _text(admin.get(f"/admin/batches/new?workshop={here.id}"))
    assert all(code in listed for code in added)  # the list grew; the statements did not
