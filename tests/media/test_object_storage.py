"""Images kept in an S3 bucket (MEDIA_STORAGE=s3) on a real server, SeaweedFS: uploaded
through the admin page, linked from MEDIA_BASE_URL under content-hashed names, fetchable
from the bucket as the right type, gone when deleted, and seen by every app machine."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from shop.catalog.models import Product, ProductImage
from shop.extensions import db
from shop.media import CONTENT_KEY, MediaError, check_media_store, media_ready
from tests import factories as f
from tests.confirming import confirmed
from tests.conftest import client_as
from tests.media.conftest import make_store

IMMUTABLE = "public, max-age=31536000, immutable"
SERVE_STORE = Path(__file__).parents[1] / "accounts" / "serve_store.py"


def photo(width=1500, height=1000, colour=(30, 90, 140)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def new_product(app) -> tuple[int, str]:
    with app.app_context():
        product = f.product(f.workshop(), images=0)
        db.session.commit()
        return product.id, product.slug


def upload(admin, product_id: int, data: bytes):
    return admin.post(
        f"/admin/products/{product_id}/images",
        data={"image": (io.BytesIO(data), "IMG_0042 Maria at the loom.png"),
              "alt_text": "A blue tote bag"},
        content_type="multipart/form-data", follow_redirects=True,
    )  # fmt: skip


def the_image(app, product_id: int) -> ProductImage:
    with app.app_context():
        return db.session.scalars(
            select(ProductImage).where(ProductImage.product_id == product_id)
        ).one()


def image_urls(page: str) -> list[str]:
    """Every image address of a page: <img src>, and each candidate of any srcset."""
    urls = re.findall(r'<img[^>]* src="([^"]+)"', page)
    for srcset in re.findall(r'srcset="([^"]+)"', page):
        urls += [candidate.strip().split(" ")[0] for candidate in srcset.split(",")]
    return urls


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.headers, answer.read()


def test_an_upload_lands_in_the_bucket_is_linked_by_hash_and_deleting_removes_it(s3_store, s3):
    app = s3_store
    product_id, slug = new_product(app)
    with app.app_context():
        admin = client_as(app, "admin")
    assert s3.objects() == set()

    assert "Image added" in upload(admin, product_id, photo()).get_data(as_text=True)
    image = the_image(app, product_id)
    stem = image.filename.rsplit(".", 1)[0]
    assert CONTENT_KEY.fullmatch(image.filename)
    # The original and its WebP and JPEG copies at 320, 640, 1280 and its own 1500 px.
    assert s3.objects() == {image.filename} | {
        f"{stem}-{w}.{fmt}" for w in (320, 640, 1280, 1500) for fmt in ("webp", "jpg")
    }
    # Nothing was written on this machine's disk.
    assert not any(Path(app.config["MEDIA_ROOT"]).rglob("*.*"))

    page = app.test_client().get(f"/products/{slug}").get_data(as_text=True)
    assert '<source type="image/webp"' in page
    urls = image_urls(page)
    assert len(urls) == 1 + 4 + 4
    for url in urls:
        assert url.startswith(f"{s3.public_url}/")
        key = url.removeprefix(f"{s3.public_url}/")
        assert CONTENT_KEY.fullmatch(key) and key in s3.objects()
        # Read from the S3 endpoint itself, with no credentials, as a browser or CDN does.
        status, headers, body = fetch(url)
        assert status == 200
        ext = key.rsplit(".", 1)[1]
        assert headers["Content-Type"] == {"jpg": "image/jpeg", "webp": "image/webp"}[ext]
        assert headers["Cache-Control"] == IMMUTABLE
        assert Image.open(io.BytesIO(body)).format == {"jpg": "JPEG", "webp": "WEBP"}[ext]
    listing = app.test_client().get("/products").get_data(as_text=True)
    assert f'src="{s3.public_url}/{image.filename}"' in listing
    assert f"{s3.public_url}/{stem}-320.webp 320w" in listing

    confirmed(admin, f"/admin/images/{image.id}/delete")
    assert s3.objects() == set()
    with pytest.raises(urllib.error.HTTPError) as gone:
        fetch(urls[0])
    assert gone.value.code == 404


def test_a_second_machine_with_its_own_disk_serves_the_same_picture(
    s3_store, s3, store_database, tmp_path
):
    """Machine A takes the upload; machine B, another process with its own instance
    folder, links its page to the same object, and serves it at /media/ too."""
    product_id, slug = new_product(s3_store)
    with s3_store.app_context():
        admin = client_as(s3_store, "admin")
    assert "Image added" in upload(admin, product_id, photo(800, 800)).get_data(as_text=True)
    image = the_image(s3_store, product_id)

    instance_b = tmp_path / "instance-b"
    env = {**os.environ, "DB_URL": store_database, "MEDIA_ROOT": str(instance_b / "media"),
           "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_KEY_PREFIX": "b",
           **{k: str(v) for k, v in s3.settings().items()}}  # fmt: skip
    machine_b = subprocess.Popen(
        [sys.executable, str(SERVE_STORE)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{machine_b.stdout.readline().strip()}"
        _, _, page = fetch(f"{base}/products/{slug}")
        urls = image_urls(page.decode())
        assert f"{s3.public_url}/{image.filename}" in urls
        _, _, from_bucket = fetch(f"{s3.public_url}/{image.filename}")
        status, headers, from_b = fetch(f"{base}/media/{image.filename}")
        assert status == 200 and from_b == from_bucket
        assert headers["Content-Type"] == "image/jpeg" and headers["Cache-Control"] == IMMUTABLE
    finally:
        machine_b.terminate()
        machine_b.wait(timeout=10)
    assert not (instance_b / "media").exists() or not any((instance_b / "media").rglob("*.*"))


def test_without_media_base_url_the_store_serves_the_bucket_itself(store_database, s3, tmp_path):
    app = make_store(store_database, tmp_path / "instance", **s3.settings(MEDIA_BASE_URL=""))
    product_id, slug = new_product(app)
    with app.app_context():
        admin = client_as(app, "admin")
    upload(admin, product_id, photo(400, 300))
    image = the_image(app, product_id)
    client = app.test_client()
    page = client.get(f"/products/{slug}").get_data(as_text=True)
    assert f'src="/media/{image.filename}"' in page
    served = client.get(f"/media/{image.filename}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == IMMUTABLE
    assert (
        client.get(f"/media/{image.filename.replace('.jpg', '-320.webp')}").mimetype == "image/webp"
    )
    # Only names the store made are fetched: nothing else kept in a shared bucket.
    s3.client().put_object(Bucket=s3.bucket, Key="backups/orders.csv", Body=b"private")
    assert client.get("/media/backups/orders.csv").status_code == 404
    assert client.get("/media/products/0123456789abcdef0123456789abcdef.jpg").status_code == 404


def test_a_store_that_cannot_reach_its_bucket_refuses_the_upload_and_is_not_ready(
    store_database, s3, tmp_path
):
    with socket_closed() as port:
        app = make_store(store_database, tmp_path / "instance",
                         **s3.settings(S3_ENDPOINT_URL=f"http://127.0.0.1:{port}"))  # fmt: skip
        product_id, _ = new_product(app)
        with app.app_context():
            admin = client_as(app, "admin")
            assert media_ready() is False
            with pytest.raises(MediaError):
                check_media_store()
        answer = upload(admin, product_id, photo(300, 300))
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
        assert "Nothing was uploaded: the image store is not answering" in answer.get_data(
            as_text=True
        )
        with app.app_context():
            assert db.session.scalar(select(ProductImage.id)) is None
    missing_bucket = make_store(
        store_database, tmp_path / "other", **s3.settings(S3_BUCKET="no-such-bucket")
    )
    with missing_bucket.app_context():
        assert media_ready() is False
    working = make_store(store_database, tmp_path / "working", **s3.settings())
    with working.app_context():
        assert media_ready() is True
        check_media_store()


def test_the_demo_seed_keeps_its_pictures_in_the_bucket(s3_store, s3):
    runner = s3_store.test_cli_runner()
    seeded = runner.invoke(args=["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    with s3_store.app_context():
        images = db.session.scalars(select(ProductImage)).all()
        products = db.session.scalar(select(db.func.count(Product.id)))
    assert len(images) == 2 * products >= 24  # a picture and a close-up each
    keys = s3.objects()
    for image in images:
        assert CONTENT_KEY.fullmatch(image.filename) and image.filename in keys
        assert image.derivative_widths == "320,640"
        assert image.filename.replace(".png", "-320.webp") in keys
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "images: 0 drawn" in again.output
    assert s3.objects() == keys


class socket_closed:
    """A local port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None
