"""Images in the local folder (MEDIA_STORAGE=local, the default): responsive copies in
the pages once made, the original until then, old names moved to content hashes, and
settings that cannot work refused at start."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from shop import create_app
from shop.catalog.models import ProductImage
from shop.config import ConfigError, config_for_tests
from shop.extensions import db
from shop.media import CONTENT_KEY, media_ready
from tests import factories as f
from tests.conftest import client_as


def photo(width=1400, height=700, colour=(200, 120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def upload(admin, product_id: int, data: bytes):
    return admin.post(
        f"/admin/products/{product_id}/images",
        data={"image": (io.BytesIO(data), "photo.png"), "alt_text": "A tote"},
        content_type="multipart/form-data", follow_redirects=True,
    )  # fmt: skip


def test_pages_show_the_original_until_the_copies_are_made(app, ctx, client, media_root):
    product = f.product(f.workshop(), images=0)
    db.session.commit()
    admin = client_as(app, "admin")
    assert "Image added" in upload(admin, product.id, photo()).get_data(as_text=True)
    image = db.session.scalars(select(ProductImage).filter_by(product_id=product.id)).one()
    stem = image.filename.rsplit(".", 1)[0]
    # As if the job had not run yet: no copies recorded, none on disk.
    image.derivative_widths = None
    db.session.commit()
    for copy in media_root.glob(f"{stem}-*"):
        copy.unlink()

    for path in (f"/products/{product.slug}", "/products"):
        page = client.get(path).get_data(as_text=True)
        assert f'src="/media/{image.filename}"' in page
        assert "srcset" not in page and "<picture>" not in page
    assert client.get(f"/media/{image.filename}").status_code == 200

    made = app.test_cli_runner().invoke(args=["media", "derivatives"])
    assert made.exit_code == 0 and "copies of 1 image(s)" in made.output, made.output
    page = client.get(f"/products/{product.slug}").get_data(as_text=True)
    webp = re.search(r'<source type="image/webp" srcset="([^"]+)"', page).group(1)
    assert webp == ", ".join(f"/media/{stem}-{w}.webp {w}w" for w in (320, 640, 1280, 1400))
    assert f'srcset="/media/{stem}-320.jpg 320w, /media/{stem}-640.jpg 640w' in page
    listing = client.get("/products").get_data(as_text=True)
    # the listing's first row is fetched at once, not lazily (it is in the first screen)
    assert f"/media/{stem}-320.webp 320w" in listing and 'loading="lazy"' not in listing
    copy = client.get(f"/media/{stem}-640.webp")
    assert copy.status_code == 200 and copy.mimetype == "image/webp"
    assert copy.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = app.test_cli_runner().invoke(args=["media", "derivatives"])
    assert "copies of 0 image(s)" in again.output


def test_a_transparent_picture_gets_a_jpeg_copy_on_white(app, ctx, media_root):
    product = f.product(f.workshop(), images=0)
    db.session.commit()
    clear = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    clear.paste((10, 120, 60, 255), (100, 100, 300, 300))
    out = io.BytesIO()
    clear.save(out, "PNG")
    upload(client_as(app, "admin"), product.id, out.getvalue())
    image = db.session.scalars(select(ProductImage).filter_by(product_id=product.id)).one()
    assert image.filename.endswith(".png") and image.derivative_widths == "320,400"
    stem = image.filename.rsplit(".", 1)[0]
    with Image.open(media_root / f"{stem}-400.jpg") as jpeg:
        assert jpeg.getpixel((10, 10)) == (255, 255, 255)
    with Image.open(media_root / f"{stem}-400.webp") as webp:
        assert webp.mode == "RGBA" and webp.getpixel((10, 10))[3] == 0


def test_an_image_kept_under_an_old_name_moves_to_its_content_hash(app, ctx, client, media_root):
    product = f.product(f.workshop(), images=0, slug="maria-s-tote")
    old = "products/maria-s-tote-5f2a9c.jpg"
    (media_root / "products").mkdir(exist_ok=True)
    data = io.BytesIO()
    Image.new("RGB", (700, 500), (90, 90, 200)).save(data, "JPEG")
    (media_root / old).write_bytes(data.getvalue())
    db.session.add(
        ProductImage(product=product, filename=old, alt_text="A tote", width=700, height=500)
    )
    db.session.commit()

    assert app.test_cli_runner().invoke(args=["media", "derivatives"]).exit_code == 0
    image = db.session.scalars(select(ProductImage).filter_by(product_id=product.id)).one()
    assert CONTENT_KEY.fullmatch(image.filename) and "maria" not in image.filename
    assert (media_root / image.filename).read_bytes() == data.getvalue()
    assert not (media_root / old).exists()
    page = client.get(f"/products/{product.slug}").get_data(as_text=True)
    assert "maria-s-tote-5f2a9c" not in page
    assert all(CONTENT_KEY.fullmatch(u.removeprefix("/media/").split(" ")[0])
               for u in re.findall(r"/media/[^\s\",]+", page))  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be one of local, s3"),
        ({"MEDIA_STORAGE": "s3"}, "MEDIA_STORAGE=s3 needs S3_BUCKET"),
        ({"MEDIA_BASE_URL": "cdn.example.org"}, "MEDIA_BASE_URL must be"),
    ],
)
def test_media_settings_that_cannot_work_stop_the_start(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        create_app(
            config_for_tests(f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path / "m"), **settings)
        )


def test_images_may_come_from_media_base_url_and_the_folder_is_checked_for_readiness(tmp_path):
    media = create_app(
        config_for_tests(
            f"sqlite:///{tmp_path / 'x.db'}",
            str(tmp_path / "media"),
            MEDIA_BASE_URL="http://127.0.0.1:8333/media/",
        )
    )
    with media.test_request_context():
        from shop.media import media_url

        assert media_url("products/ab.jpg") == "http://127.0.0.1:8333/media/products/ab.jpg"
        assert media_ready() is True
    policy = media.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https: http://127.0.0.1:8333;" in policy
    (tmp_path / "not-a-folder").write_text("a file where the media folder should be")
    broken = create_app(
        config_for_tests(f"sqlite:///{tmp_path / 'y.db'}", str(tmp_path / "not-a-folder"))
    )
    with broken.app_context():
        assert media_ready() is False


def test_a_hung_object_store_gets_a_quick_503_not_a_500(tmp_path):
    """A store that accepts connections and never answers (a hung S3): /media/ answers
    503 once its bounded tries run out, and never 500 (a timeout carries no S3 answer)."""
    import socket
    import threading
    import time

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    accepted = []
    stop = threading.Event()

    def accept_and_say_nothing():
        hung.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(hung.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    try:
        app = create_app(
            config_for_tests(
                f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path / "media"), MEDIA_STORAGE="s3",
                S3_BUCKET="shop", S3_ENDPOINT_URL=f"http://127.0.0.1:{hung.getsockname()[1]}",
                S3_ACCESS_KEY_ID="k", S3_SECRET_ACCESS_KEY="s", PROPAGATE_TEST_ERRORS=False,
            )
        )  # fmt: skip
        started = time.monotonic()
        response = app.test_client().get(f"/media/products/{'a' * 32}-320.jpg")
        waited = time.monotonic() - started
    finally:
        stop.set()
        for connection in accepted:
            connection.close()
        hung.close()
    assert response.status_code == 503
    assert waited < 20  # two tries of at most 5 s each, not minutes
