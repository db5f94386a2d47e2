"""What an operator's tools see: /readyz, /metrics behind its token, request ids."""

from __future__ import annotations

import re
import socket

import pytest

from shop import create_app, metrics, readiness
from shop.config import config_for_tests
from shop.extensions import db
from tests.conftest import RequestIsolatingClient
from tests.orders.conftest import stocked_variant
from tests.orders.test_cart_and_checkout import CHECKOUT, add

TOKEN = "metrics-token-for-tests"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_up(port: int = 6379) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _app(migrated_app, **overrides):
    """Another app on the test database, with settings of its own."""
    config = config_for_tests(
        migrated_app.config["SQLALCHEMY_DATABASE_URI"], migrated_app.config["MEDIA_ROOT"]
    )
    config.update(overrides)
    application = create_app(config)
    application.test_client_class = RequestIsolatingClient
    return application


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
        if found == labels:
            return float(match.group(2))
    return None


def _scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- /readyz ------------------------------------------------------------------------------


def test_ready_when_database_cache_queue_and_media_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "cache": "ok",
            "rate_limits": "ok",
            "queue": "ok",
            "media": "ok",
        },
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_not_ready_names_what_failed_and_never_its_address_or_password(
    migrated_app, tmp_path, caplog
):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("uploads cannot go under a file")
    secret = "hunter2-redis-password"
    app = _app(
        migrated_app,
        MEDIA_ROOT=str(not_a_folder / "media"),
        CACHE_URL=f"redis://:{secret}@127.0.0.1:{_closed_port()}/0",
        QUEUE_URL=f"redis://:{secret}@127.0.0.1:{_closed_port()}/0",
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {
        "status": "unavailable",
        "checks": {
            "database": "ok",
            "cache": "failed",
            "rate_limits": "ok",
            "queue": "failed",
            "media": "failed",
        },
    }
    body = response.get_data(as_text=True)
    assert secret not in body and "a-file" not in body and secret not in caplog.text
    assert "readiness check cache failed" in caplog.text  # the operator is told which


@pytest.mark.skipif(not _redis_up(), reason="Redis is not reachable on 127.0.0.1:6379")
def test_a_redis_cache_and_queue_that_answer_are_ready(migrated_app):
    app = _app(migrated_app, CACHE_URL="redis://127.0.0.1:6379/15",
               QUEUE_URL="redis://127.0.0.1:6379/15")  # fmt: skip
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json


# --- /metrics -----------------------------------------------------------------------------


def test_metrics_are_not_public_without_a_token(migrated_app):
    deployed = _app(migrated_app)  # SHOP_ENV other than development, no METRICS_TOKEN
    assert deployed.test_client().get("/metrics").status_code == 404
    development = _app(migrated_app, ENV_NAME="development", PUBLIC_BASE_URL="")
    assert development.test_client().get("/metrics").status_code == 200


def test_metrics_need_the_bearer_token_when_one_is_set(migrated_app):
    client = _app(migrated_app, METRICS_TOKEN=TOKEN).test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200
    assert right.headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_requests_are_counted_per_route_never_per_path(app, ctx):
    app.config["METRICS_TOKEN"] = TOKEN
    variant = stocked_variant()
    db.session.commit()
    client = app.test_client()
    labels = {"route": "/products/<slug>", "method": "GET", "status": "2xx"}
    before = _sample(_scrape(client), "shop_http_requests_total", **labels) or 0
    client.get(f"/products/{variant.product.slug}")
    client.get(f"/orders/{'t' * 40}")  # a guest's order link: its token is in the path
    text = _scrape(client)
    assert _sample(text, "shop_http_requests_total", **labels) == before + 1
    assert _sample(text, "shop_http_request_duration_seconds_count",
                   route="/products/<slug>", method="GET") >= 1  # fmt: skip
    assert _sample(text, "shop_http_requests_total", route="/orders/<token>", method="GET",
                   status="4xx") >= 1  # fmt: skip
    assert variant.product.slug not in text and "t" * 40 not in text


def test_held_units_and_paid_orders_are_read_at_scrape(app, ctx):
    app.config["METRICS_TOKEN"] = TOKEN
    variant = stocked_variant(quantity=5)
    db.session.commit()
    client = app.test_client()
    before = _scrape(client)
    held = _sample(before, "shop_stock_held_units")
    paid = _sample(before, "shop_orders_paid_total")
    add(client, variant.id, "3")
    placed = client.post("/checkout", data=CHECKOUT)
    assert placed.status_code == 302
    assert _sample(_scrape(client), "shop_stock_held_units") == held + 3
    client.post(placed.headers["Location"], data={"card_number": "4242 4242 4242 4242"})
    after = _scrape(client)
    assert _sample(after, "shop_stock_held_units") == held  # sold: no longer held
    assert _sample(after, "shop_orders_paid_total") == paid + 1


def test_other_parts_of_the_store_add_figures_and_a_broken_one_hides_no_other(migrated_app):
    app = _app(migrated_app, METRICS_TOKEN=TOKEN)  # its own sources: the others keep theirs
    metrics.register_source(app, "shop_test_depth", "Jobs waiting.", lambda: {("emails",): 7},
                            labels=("queue",))  # fmt: skip
    metrics.register_source(app, "shop_test_broken", "Jobs that failed.", lambda: 1 / 0,
                            kind="counter")  # fmt: skip
    text = _scrape(app.test_client())
    assert _sample(text, "shop_test_depth", queue="emails") == 7
    assert _sample(text, "shop_test_broken_total") is None
    assert _sample(text, "shop_metrics_source_errors", metric="shop_test_broken") == 1
    assert _sample(text, "shop_stock_held_units") is not None


def test_two_apps_in_one_process_keep_their_own_checks_and_figures(migrated_app):
    plain = _app(migrated_app, METRICS_TOKEN=TOKEN)
    shared_cache = _app(migrated_app, METRICS_TOKEN=TOKEN,
                        CACHE_URL=f"redis://127.0.0.1:{_closed_port()}/0")  # fmt: skip

    def search_index() -> None:
        raise ConnectionError("the search index did not answer")

    readiness.register_check(shared_cache, "search", search_index)
    metrics.register_source(shared_cache, "shop_test_indexed", "Documents.", lambda: 3)

    answer = shared_cache.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"] == {"database": "ok", "cache": "failed", "rate_limits": "ok",
                                     "queue": "ok", "media": "ok", "search": "failed"}  # fmt: skip
    assert _sample(_scrape(shared_cache.test_client()), "shop_test_indexed") == 3

    # A load balancer asks only for what no page can be served without.
    answer = shared_cache.test_client().get("/readyz?need=database")
    assert answer.status_code == 200 and answer.json["status"] == "degraded"
    assert answer.json["checks"]["cache"] == "failed"
    assert shared_cache.test_client().get("/readyz?need=database,cache").status_code == 503
    refused = shared_cache.test_client().get("/readyz?need=databse")
    assert refused.status_code == 400 and "database" in refused.json["error"]

    answer = plain.test_client().get("/readyz")
    assert answer.status_code == 200
    assert answer.json["checks"] == {"database": "ok", "cache": "ok", "rate_limits": "ok", "queue": "ok",
                                     "media": "ok"}  # fmt: skip
    text = _scrape(plain.test_client())
    assert _sample(text, "shop_test_indexed") is None and "shop_stock_held_units " in text


# --- request ids --------------------------------------------------------------------------


def test_a_request_id_is_kept_when_well_formed_and_made_otherwise(client):
    for sent in ("7f3a9c21b4e05d6a", "0b7e4f0c-3d9a-4c1e-9f2a-5e8d7c6b4a31", "ABCDEF0123456789"):
        assert (
            client.get("/healthz", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent
        )
    # Anything that could carry an address or a name into the logs is replaced.
    for sent in ("someone@example.org", "short", "a b c d e f g h", "x" * 200,
                 "203.0.113.77", "jane.doe.example.org", "edge-7f3a9c21b4", "f" * 65):  # fmt: skip
        made = client.get("/healthz", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), sent
    first, second = (client.get("/healthz").headers["X-Request-ID"] for _ in range(2))
    assert first != second
