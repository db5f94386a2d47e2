"""An object store that hangs (attack on issue 10): SeaweedFS behind a link the test stops
(tests/flaky_link.py). The first call waits out its bounded tries; after that the store is
known down and every media call fails at once (503 with Retry-After) until the cool-down
ends, and then all works again."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from sqlalchemy import func, select

from shop.catalog.models import ProductImage
from shop.extensions import db
from tests.conftest import client_as
from tests.flaky_link import FlakyLink
from tests.media.conftest import make_store
from tests.media.test_object_storage import new_product, photo, the_image, upload

COOL_DOWN = 2  # seconds; the store's default is 10
QUICK = 0.5


def timed(call):
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def images_of(app, product_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(ProductImage.id)).where(ProductImage.product_id == product_id)
        )


def test_a_hung_object_store_holds_one_request_and_then_media_answers_503_at_once(
    store_database, s3, tmp_path
):
    endpoint = urlsplit(s3.endpoint)
    link = FlakyLink((endpoint.hostname, endpoint.port))
    app = make_store(
        store_database, tmp_path / "instance",
        **s3.settings(S3_ENDPOINT_URL=f"http://{link.url}", MEDIA_BASE_URL="",
                      DEPENDENCY_COOL_DOWN_SECONDS=COOL_DOWN, PROPAGATE_TEST_ERRORS=False),
    )  # fmt: skip
    try:
        product_id, _ = new_product(app)
        later_id, _ = new_product(app)
        with app.app_context():
            admin = client_as(app, "admin")
        assert "Image added" in upload(admin, product_id, photo(400, 300)).get_data(as_text=True)
        key = the_image(app, product_id).filename
        client = app.test_client()
        assert client.get(f"/media/{key}").status_code == 200

        link.hang()
        first, waited = timed(lambda: client.get(f"/media/{key}"))
        assert first.status_code == 503 and waited < 12  # its two tries of 5 s
        again, waited = timed(lambda: client.get(f"/media/{key}"))
        assert again.status_code == 503 and waited < QUICK, waited
        assert 1 <= int(again.headers["Retry-After"]) <= COOL_DOWN

        refused, waited = timed(lambda: upload(admin, later_id, photo(300, 300, (200, 10, 10))))
        assert refused.status_code == 503 and waited < QUICK, (refused.status_code, waited)
        assert 1 <= int(refused.headers["Retry-After"]) <= COOL_DOWN
        assert "Nothing was uploaded: the image store is not answering" in refused.get_data(
            as_text=True
        )
        assert images_of(app, later_id) == 0

        ready, waited = timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503 and waited < QUICK
        assert json.loads(ready.get_data())["checks"]["media"] == "failed"

        link.forward()
        time.sleep(COOL_DOWN + 0.5)
        assert client.get(f"/media/{key}").status_code == 200
        added = upload(admin, later_id, photo(300, 300, (200, 10, 10)))
        assert "Image added" in added.get_data(as_text=True)
        assert images_of(app, later_id) == 1
        assert client.get("/readyz").status_code == 200
    finally:
        link.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
