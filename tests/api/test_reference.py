"""The partner API's OpenAPI document says everything an operation can answer, with
examples that are true to its schemas; and its reference page is rendered from it on
the server, with no script, under the store's content security policy."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from shop.extensions import db
from tests import factories as f

DETAILS = ("/api/v1/products/{slug}", "/api/v1/workshops/{slug}", "/api/v1/batches/{code}",
           "/api/v1/batches/{code}/verify")  # fmt: skip


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def test_the_document_describes_every_answer_of_every_operation(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "Made Known partner API"
    assert "Pagination" in document["info"]["description"]
    operations = list(_operations(document))
    assert [(path, method) for path, method, _ in operations] == [
        ("/api/v1/products", "get"), ("/api/v1/products/{slug}", "get"),
        ("/api/v1/workshops", "get"), ("/api/v1/workshops/{slug}", "get"),
        ("/api/v1/batches", "get"), ("/api/v1/batches/{code}", "get"),
        ("/api/v1/batches/{code}/verify", "get"),
    ]  # fmt: skip
    for path, _method, operation in operations:
        answers = operation["responses"]
        expected = {"200", "304", "400", "429", "503", "default"} | (
            {"404"} if path in DETAILS else set()
        )
        assert set(answers) == expected, path
        assert operation["summary"] and operation["description"] and operation["operationId"]
        assert {"ETag", "Cache-Control"} <= set(answers["200"]["headers"]), path
        assert "content" not in answers["304"], path  # no body
        assert answers["429"]["headers"]["Retry-After"]["required"] is True
        for status in ("400", "429", "503"):
            error = answers[status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (path, status)
        if path.endswith("s"):  # a listing: its Link header and its paging parameters
            assert "Link" in answers["200"]["headers"]
            assert {p["name"] for p in operation["parameters"]} == {"cursor", "limit"}


def test_every_example_in_the_document_fits_its_schema(client):
    document = client.get("/api/v1/openapi.json").get_json()
    checked = 0
    for path, _method, operation in _operations(document):
        for status, answer in operation["responses"].items():
            content = answer.get("content", {}).get("application/json", {})
            if "example" in content:
                schema = {**content["schema"], "components": document["components"]}
                errors = list(Draft202012Validator(schema).iter_errors(content["example"]))
                assert errors == [], (path, status, [e.message for e in errors])
                checked += 1
    assert checked >= 7 + 7 + 4  # each 200, each 400, each 404


def test_the_reference_page_is_rendered_from_the_document_without_a_script(client, ctx):
    f.product(f.workshop())
    db.session.commit()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<script" not in page
    assert not re.search(r"<[^>]+\son[a-z]+=", page)  # no inline handlers either
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    document = client.get("/api/v1/openapi.json").get_json()
    assert '<h1 id="api-title">Made Known partner API</h1>' in page
    assert 'href="/api/v1/openapi.json"' in page
    for path, method, operation in _operations(document):
        assert f'id="{operation["operationId"]}"><code>{method.upper()} {path}</code>' in page
        assert operation["summary"] in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    # its markdown is rendered, its examples shown, its types linked
    assert "<strong>Pagination.</strong>" in page and "<code>If-None-Match</code>" in page
    assert '<a href="#schema-Product">Product</a>' in page
    assert "&#34;training_share&#34;" in page or "&quot;training_share&quot;" in page
