"""Each answer of the partner API runs a fixed number of SQL statements, however many
products, workshops and batches the store has and however long the page; and (with
RAISE_ON_LAZY_LOAD, as the test config sets) none of them loads a relation row by row."""

from __future__ import annotations

from tests.api.helpers import catalog

BUDGETS = {
    "/api/v1/products?limit=100": 2,  # products with workshop and category; variants
    "/api/v1/workshops?limit=100": 2,  # workshops; their vetting events
    "/api/v1/batches?limit=100": 1,  # batches with variant, product and workshop
    "/api/v1/products/{product}": 2,
    "/api/v1/workshops/{workshop}": 2,
    "/api/v1/batches/{batch}": 1,
    "/api/v1/batches/{batch}/verify": 3,  # the batch and its records; vetting events; its passport and key
    "/api/v1/openapi.json": 0,
}


def _statements(client, count_queries, made) -> dict[str, int]:
    found = {}
    for template, _budget in BUDGETS.items():
        url = template.format(
            product=made["products"][0], workshop=made["workshops"][0], batch=made["batches"][0]
        )
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200, url
        found[template] = counter.count
        if template.endswith("limit=100") and "products" in url:
            assert len(response.get_json()["items"]) == len(made["products"])
    return found


def test_statements_do_not_grow_with_the_catalog(client, ctx, count_queries):
    made = catalog(3)  # 3 products, 3 workshops, 6 batches
    small = _statements(client, count_queries, made)
    more = catalog(27)  # 30 products, 30 workshops, 60 batches
    made = {key: made[key] + more[key] for key in made}
    large = _statements(client, count_queries, made)
    assert small == large, f"with 3 products {small}, with 30 {large}"
    assert large == BUDGETS
