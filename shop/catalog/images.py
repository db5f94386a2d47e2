"""Product images: checked and re-encoded on upload, kept in the media store under their
content's hash, and resized into responsive copies (WebP, and JPEG for browsers without it).

A key holds nothing but the hash and a width: `products/<hash>.jpg` is the original,
`products/<hash>-640.webp` and `products/<hash>-640.jpg` its copies 640 px wide. Nothing
is ever rewritten under a key, so every one can be cached for a year (shop/media.py).

The copies are made by `make_derivatives(image_id)`, after the upload is committed; pages
show the original until they exist.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from io import BytesIO

from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop import jobs
from shop.audit.services import record
from shop.catalog.admin_services import CatalogError
from shop.catalog.image_objects import forget_keys, lock_pictures
from shop.catalog.models import Product, ProductImage
from shop.extensions import db
from shop.media import CONTENT_KEY, MediaError, media_prefix, media_storage, media_url

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
LONGEST_SIDE = 1600
# Enough steps that a phone, a laptop and a wide screen each get one close to its need.
DERIVATIVE_WIDTHS = (320, 640, 1280)
HASH_CHARS = 32  # 128 bits of SHA-256: no two pictures of one catalog share a key
# The job that makes an uploaded image's responsive copies.
IMAGE_DERIVATIVES = "image.derivatives"


def reencode(data: bytes) -> tuple[bytes, str, int, int]:
    """Check an upload really is an image and re-encode it: nothing the uploader put in
    the file (metadata, trailing data, scripts) survives. Returns (bytes, ext, w, h)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise CatalogError(_("the image is larger than 5 MB"))
    try:
        with Image.open(BytesIO(data)) as probe:
            if probe.format not in {"JPEG", "PNG", "WEBP"}:
                raise CatalogError(_("only JPEG, PNG and WebP images are accepted"))
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise CatalogError(_("the image has too many pixels"))
            probe.verify()
        with Image.open(BytesIO(data)) as image:
            image.load()
            image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
            has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
            clean = image.convert("RGBA" if has_alpha else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise CatalogError(_("the file is not an image we can read")) from exc
    out = BytesIO()
    if has_alpha:
        clean.save(out, "PNG", optimize=True)
        ext = "png"
    else:
        clean.save(out, "JPEG", quality=85, optimize=True)
        ext = "jpg"
    return out.getvalue(), ext, clean.width, clean.height


# --- Keys ------------------------------------------------------------------------------


def content_key(data: bytes, ext: str) -> str:
    return f"products/{hashlib.sha256(data).hexdigest()[:HASH_CHARS]}.{ext}"


def derivative_key(key: str, width: int, fmt: str) -> str:
    return f"{key.rsplit('.', 1)[0]}-{width}.{fmt}"


def widths_for(width: int) -> list[int]:
    """The copies an image of `width` px gets: the steps below it, and its own width
    (never enlarged)."""
    if width <= 0:
        return []
    return [w for w in DERIVATIVE_WIDTHS if w < width] + [width]


def parse_widths(text: str | None) -> list[int]:
    return [int(w) for w in (text or "").split(",") if w.strip().isdigit()]


def stored_keys(image: ProductImage) -> list[str]:
    """Every key the image may have in the store: its original and any copy, made or
    still being made."""
    widths = set(widths_for(image.width)) | set(parse_widths(image.derivative_widths))
    copies = [
        derivative_key(image.filename, w, fmt) for w in sorted(widths) for fmt in ("webp", "jpg")
    ]
    return [image.filename, *copies]


# --- Adding and removing ---------------------------------------------------------------


def _put(key: str, data: bytes) -> None:
    try:
        media_storage().put(key, data)
    except MediaError as exc:
        raise CatalogError(_("%(problem)s; please try again in a moment", problem=exc)) from exc


def attach_image(product: Product, data: bytes, ext: str, width: int, height: int,
                 alt_text: str) -> ProductImage:  # fmt: skip
    """Keep image bytes the store already trusts (re-encoded, or drawn by the demo) as the
    product's next picture. The object is written before the commit: a failed commit
    leaves an unused object, never a row without its picture."""
    key = content_key(data, ext)
    # Held until the commit: a deletion of this picture's objects waits (image_objects).
    lock_pictures([key])
    shown_on = db.session.scalar(
        select(Product.name).join(ProductImage).where(ProductImage.filename == key)
    )
    if shown_on is not None:
        raise CatalogError(_("that picture is already shown on “%(product)s”", product=shown_on))
    image = ProductImage(product=product, filename=key, alt_text=alt_text,
                         width=width, height=height, position=len(product.images))  # fmt: skip
    db.session.add(image)
    try:
        with db.session.begin_nested():  # two admins adding the same picture at once
            db.session.flush()
    except IntegrityError as exc:
        raise CatalogError(_("that picture was added a moment ago")) from exc
    _put(key, data)
    jobs.enqueue(IMAGE_DERIVATIVES, image_id=image.id)
    return image


def add_image(product: Product, data: bytes, alt_text: str) -> ProductImage:
    """An uploaded image: checked, re-encoded, kept under a key made from its content
    (never the uploader's name), recorded; its copies are made after the commit."""
    clean, ext, width, height = reencode(data)
    image = attach_image(product, clean, ext, width, height, alt_text)
    record("image.upload", "product", product.id, summary=image.filename)
    return image


def forget_image(image: ProductImage) -> str:
    """Delete the image's row; a job deletes its objects (original and every copy) once
    that is committed, unless a row references them again by then. Returns its key."""
    filename, keys = image.filename, stored_keys(image)
    db.session.delete(image)
    db.session.flush()
    forget_keys(keys)
    return filename


def remove_image(image: ProductImage) -> str:
    """An admin removes an image: forgotten, and recorded. Returns its key."""
    product_id = image.product_id
    filename = forget_image(image)
    record("image.delete", "product", product_id, summary=filename)
    return filename


def describe_image(image: ProductImage, alt_text: str) -> None:
    """New alt text: what the storefront's <img alt> says (required; the form checks)."""
    before = image.alt_text
    if alt_text != before:
        image.alt_text = alt_text
        db.session.flush()
        record("image.describe", "product", image.product_id, summary=image.filename,
               before={"alt_text": before}, after={"alt_text": alt_text})  # fmt: skip


def move_image(image: ProductImage, direction: str) -> None:
    """Swap the image with its neighbour ("up": shown earlier; the first is the one
    listings and the product page lead with), and number the product's images 0, 1, …
    again, so positions left equal by older uploads become an order."""
    gallery = list(
        db.session.scalars(
            select(ProductImage)
            .where(ProductImage.product_id == image.product_id)
            .order_by(ProductImage.position, ProductImage.id)
            .with_for_update()  # two admins reordering at once: one after the other
        )
    )
    at = next(i for i, other in enumerate(gallery) if other.id == image.id)
    to = at - 1 if direction == "up" else at + 1
    if 0 <= to < len(gallery):
        gallery[at], gallery[to] = gallery[to], gallery[at]
    for position, other in enumerate(gallery):
        other.position = position
    db.session.flush()
    record("image.move", "product", image.product_id, summary=f"{image.filename}: {direction}")


# --- Responsive copies -----------------------------------------------------------------


def _encode(picture: Image.Image) -> dict[str, bytes]:
    has_alpha = picture.mode in ("RGBA", "LA") or "transparency" in picture.info
    picture = picture.convert("RGBA" if has_alpha else "RGB")
    webp = BytesIO()
    picture.save(webp, "WEBP", quality=80, method=4)
    flat = picture
    if has_alpha:  # JPEG has no transparency: on white, as the pages' cards are
        flat = Image.new("RGB", picture.size, (255, 255, 255))
        flat.paste(picture, mask=picture.getchannel("A"))
    jpeg = BytesIO()
    flat.save(jpeg, "JPEG", quality=82, optimize=True, progressive=True)
    return {"webp": webp.getvalue(), "jpg": jpeg.getvalue()}


def _rekey(image: ProductImage, data: bytes) -> bool:
    """An image kept before keys were content hashes: store it under its hash first, so
    its copies' keys hold nothing else either. False when the hash is taken."""
    key = content_key(data, image.filename.rsplit(".", 1)[-1])
    lock_pictures([key])
    if db.session.scalar(select(ProductImage.id).where(ProductImage.filename == key)):
        log.warning("image %s: the same picture is kept under another row", image.id)
        return False
    media_storage().put(key, data)
    old, image.filename = image.filename, key
    db.session.flush()
    forget_keys([old])
    return True


def make_derivatives(image_id: int) -> list[int] | None:
    """Make the image's WebP and JPEG copies at each width and record them. A job: safe to
    run twice (a second run finds them made) or after the image was deleted (nothing to
    do). Flushes, never commits. Returns the widths made, or None when nothing was done.
    Raises MediaError when the store does not answer, so a queue can retry."""
    filename = db.session.scalar(select(ProductImage.filename).where(ProductImage.id == image_id))
    if filename is None:
        return None
    # Read again under the picture's lock: a deletion of its objects runs before or after.
    lock_pictures([filename])
    image = db.session.get(ProductImage, image_id, populate_existing=True)
    if image is None or image.derivative_widths:
        return None
    if image.filename != filename:  # moved to its content hash meanwhile
        lock_pictures([image.filename])
    storage = media_storage()
    data = storage.get(image.filename)
    if data is None:
        log.warning("image %s: its original is missing from the media store", image_id)
        return None
    if not CONTENT_KEY.fullmatch(image.filename) and not _rekey(image, data):
        return None
    try:
        with Image.open(BytesIO(data)) as source:
            source.load()
            widths = widths_for(source.width)
            for width in widths:
                height = max(1, round(source.height * width / source.width))
                copy = (
                    source
                    if width == source.width
                    else source.resize((width, height), Image.Resampling.LANCZOS)
                )
                for fmt, payload in _encode(copy).items():
                    storage.put(derivative_key(image.filename, width, fmt), payload)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        # The original was checked on upload; one that cannot be read now would fail on
        # every retry, so it is reported and the page keeps showing the original.
        log.exception("image %s: its original could not be read", image_id)
        return None
    image.derivative_widths = ",".join(str(w) for w in widths)
    db.session.flush()
    return widths


@jobs.handler(IMAGE_DERIVATIVES)
def _derivatives_job(job) -> None:
    """The worker makes the copies after the upload's commit (retried if the media store
    does not answer; `flask media derivatives` fills in anything missed)."""
    make_derivatives(job.payload["image_id"])


def images_without_derivatives() -> list[int]:
    return list(
        db.session.scalars(
            select(ProductImage.id)
            .where(ProductImage.derivative_widths.is_(None))
            .order_by(ProductImage.id)
        )
    )


# --- For templates ---------------------------------------------------------------------


@dataclass(frozen=True)
class PictureSources:
    """What an <img> (in a <picture>) needs: the original, and the copies' srcsets once
    they exist (empty strings until then)."""

    src: str
    webp: str
    jpeg: str


def picture_sources(key: str, derivative_widths: str | None) -> PictureSources:
    prefix = media_prefix()
    src = media_url(key, prefix)
    widths = parse_widths(derivative_widths)
    if not widths:
        return PictureSources(src, "", "")

    def srcset(fmt: str) -> str:
        return ", ".join(f"{media_url(derivative_key(key, w, fmt), prefix)} {w}w" for w in widths)

    return PictureSources(src, srcset("webp"), srcset("jpg"))
