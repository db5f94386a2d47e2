"""Listings are walked by cursor: every item once, in a stable order, whatever the page
size; a cursor this API did not give out is refused, never read as a position."""

from __future__ import annotations

import pytest

from shop.api.cursors import BAD_CURSOR, make_cursor
from shop.extensions import db
from tests import factories as f
from tests.api.helpers import catalog, get_json, walk

LISTINGS = {"products": "slug", "workshops": "slug", "batches": "code"}


@pytest.mark.parametrize("listing", list(LISTINGS))
def test_walking_every_page_meets_every_item_once_in_a_stable_order(client, ctx, listing):
    made = catalog(7)
    key = LISTINGS[listing]
    everything = get_json(client, f"/api/v1/{listing}?limit=100")
    assert everything["next"] is None
    expected = [item[key] for item in everything["items"]]
    assert set(made[listing]) <= set(expected) and expected == sorted(expected)

    for limit in (1, 2, 3, 5):
        items, pages = walk(client, f"/api/v1/{listing}?limit={limit}")
        assert [item[key] for item in items] == expected, limit  # once each, same order
        assert pages == -(-len(expected) // limit)
    # the default page is 20
    assert len(get_json(client, f"/api/v1/{listing}")["items"]) == min(20, len(expected))


def test_the_next_page_is_linked_in_the_body_and_in_a_link_header(client, ctx):
    catalog(3)
    response = client.get("/api/v1/products?limit=2")
    next_url = response.get_json()["next"]
    assert next_url.startswith("http://localhost/api/v1/products?cursor=")
    assert "limit=2" in next_url
    assert response.headers["Link"] == f'<{next_url}>; rel="next"'
    last = client.get(next_url.removeprefix("http://localhost"))
    assert last.get_json()["next"] is None and "Link" not in last.headers


def test_an_item_added_or_removed_meanwhile_moves_no_other_item_between_pages(client, ctx):
    for slug in ("a-bag", "c-bag", "e-bag"):
        f.product(f.workshop(), slug=slug)
    db.session.commit()
    first = get_json(client, "/api/v1/products?limit=2")
    assert [p["slug"] for p in first["items"]] == ["a-bag", "c-bag"]
    f.product(f.workshop(), slug="b-bag")  # lands before the cursor: not seen on this walk
    db.session.commit()
    rest = get_json(client, first["next"].removeprefix("http://localhost"))
    assert [p["slug"] for p in rest["items"]] == ["e-bag"]


def test_a_cursor_this_api_did_not_give_out_is_refused_with_a_clear_message(client, ctx, app):
    catalog(3)
    good = get_json(client, "/api/v1/products?limit=1")["next"].split("cursor=")[1].split("&")[0]
    with app.test_request_context():
        forged = make_cursor("products", "a").rsplit(".", 1)[0] + ".AAAA"
        other_key = make_cursor("products", "zzz")
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for cursor in ("nonsense", tampered, forged, "x" * 401, "é", "%F0%9F%91%8D"):
        error = get_json(client, f"/api/v1/products?cursor={cursor}", 400)["error"]
        assert error["status"] == 400
        # the same sentence for each, an oversized one too (no field name put in front)
        assert error["message"] == BAD_CURSOR, cursor
    # a cursor of another listing, or made with another secret key, is not one of these
    batches_cursor = get_json(client, "/api/v1/batches?limit=1")["next"].split("cursor=")[1]
    get_json(client, f"/api/v1/products?cursor={batches_cursor.split('&')[0]}", 400)
    app.config["SECRET_KEY"], old = "another-key", app.config["SECRET_KEY"]
    try:
        get_json(client, f"/api/v1/products?cursor={good}", 400)
    finally:
        app.config["SECRET_KEY"] = old
    # and a real one still works; an empty one is the first page
    assert get_json(client, f"/api/v1/products?cursor={other_key}")["items"] == []
    assert get_json(client, "/api/v1/products?cursor=&limit=1")["items"]


def test_limit_is_a_whole_number_from_1_to_100(client, ctx):
    catalog(2)
    for limit in ("1", "100", "50"):
        get_json(client, f"/api/v1/products?limit={limit}")
    for limit in ("0", "101", "-1", "abc", "1.5", "", "99999999999999999999"):
        error = get_json(client, f"/api/v1/products?limit={limit}", 400)["error"]
        assert error["message"] == "limit must be a whole number from 1 to 100", limit


@pytest.mark.parametrize("listing", list(LISTINGS))
def test_limit_is_read_only_in_ascii_digits(client, ctx, listing):
    """int() reads other scripts' digits and strips spaces: none of them is a limit here."""
    catalog(1)
    get_json(client, f"/api/v1/{listing}?limit=05")
    for limit in ("%EF%BC%95", "\u0665", "%205", "5%20", "+5", "5%0A", "\u0665\u0665"):
        error = get_json(client, f"/api/v1/{listing}?limit={limit}", 400)["error"]
        assert error == {"status": 400, "message": "limit must be a whole number from 1 to 100"}


@pytest.mark.parametrize("listing", list(LISTINGS))
def test_a_parameter_given_twice_is_refused_not_half_read(client, ctx, listing):
    catalog(2)
    error = get_json(client, f"/api/v1/{listing}?limit=5&limit=6", 400)["error"]
    assert error["message"] == "limit is given more than once: give it once."
    cursor = get_json(client, f"/api/v1/{listing}?limit=1")["next"].split("cursor=")[1]
    cursor = cursor.split("&")[0]
    error = get_json(client, f"/api/v1/{listing}?cursor={cursor}&cursor=", 400)["error"]
    assert error["message"] == "cursor is given more than once: give it once."
    # each once, as a `next` link gives them, still reads
    assert get_json(client, f"/api/v1/{listing}?cursor={cursor}&limit=1")["items"]
