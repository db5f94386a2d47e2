"""/verify tells a retailer how to check a tag: scan, linkset, passport, DID document,
signature, status bit, and the command that does it all. Its Python examples really work:
they are run here against published documents (a tiny server, as in
test_passport_verify). A public page like the others: canonical link, description, in the
sitemap, linked from every batch page, served from the page cache."""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import re
import warnings

import pytest
from joserfc.errors import BadSignatureError

from shop.extensions import db
from tests import factories as f
from tests.verification.test_passport_verify import (  # noqa: F401  (store: a fixture)
    OUR_INDEX,
    PASSPORT_PATH,
    REVOKED_INDEX,
    VC,
    passport_payload,
    store,
)

BASE = "http://localhost"  # PUBLIC_BASE_URL in tests


def _examples(page: str) -> list[str]:
    blocks = re.findall(r'<pre class="code-example"><code>(.*?)</code></pre>', page, re.S)
    return [html.unescape(block) for block in blocks]


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_the_page_walks_through_every_check(client):
    response = client.get("/verify")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for step in ("Scan the QR code", "Ask the same address for its links", "Fetch the passport",
                 "Fetch the store's DID document", "Verify the signature with any JOSE library",
                 "Check that it was not withdrawn"):  # fmt: skip
        assert step in page, step
    assert "Accept: application/linkset+json" in page and "?linkType=linkset" in page
    assert f"{BASE}/.well-known/did.json" in page and "did:web:localhost" in page
    assert f"flask --app app passport verify {BASE}/p/RS-2026-03" in page  # no batch yet
    assert "--issuer did:web:localhost" in page  # run elsewhere: the DID to expect
    assert "needs <code>--http</code> too" in page
    assert f"{BASE}/01/&lt;GTIN&gt;/10/&lt;batch code&gt;" in page
    assert "<script" not in page.split("</head>")[1]  # no script needed
    assert re.search(r'<link rel="canonical" href="http://localhost/verify">', page)
    assert 'name="description" content="How a retailer' in page
    assert f"<loc>{BASE}/verify</loc>" in client.get("/sitemap.xml").get_data(as_text=True)


def test_every_batch_page_links_to_it(client, ctx):
    w = f.workshop()
    f.batch(f.product(w).variants[0], code="LINKED-1")
    db.session.commit()
    assert 'href="/verify"' in client.get("/p/LINKED-1").get_data(as_text=True)


def test_the_page_is_served_from_the_page_cache(client, count_queries):
    first = client.get("/verify")
    with count_queries() as q:
        again = client.get("/verify")
    assert again.data == first.data and q.count == 1  # the storefront version only
    etag = {"If-None-Match": first.headers["ETag"]}
    assert client.get("/verify", headers=etag).status_code == 304


def test_its_python_examples_verify_a_real_passport(client, store):  # noqa: F811
    verify, status_bit = _examples(client.get("/verify").get_data(as_text=True))
    verify = verify.replace(BASE, store.base).replace("/p/RS-2026-03", "/p/T-1")

    def run(code: str, names: dict) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc: EdDSA is now also named Ed25519
            exec(code, names)  # noqa: S102 (the page's own example, run on test documents)
        return out.getvalue()

    names: dict = {}
    printed = run(verify, names)
    assert "'type': ['ProductPassport']" in printed or "ProductPassport" in printed
    assert names["passport"]["issuer"]["id"] == store.did

    # The status example, as printed, after the first: it fetches and verifies the list.
    for index, withdrawn in ((OUR_INDEX, 0), (REVOKED_INDEX, 1)):
        scope = {**names, "passport": passport_payload(store, index)}
        run(status_bit, scope)
        assert scope["withdrawn"] == withdrawn, index

    # A passport changed by one byte is refused by the example as it stands.
    header, payload, signature = store.passport.split(".")
    body = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    forged = base64.urlsafe_b64encode(body.replace(b"Made Known", b"Made Knowm", 1)).decode()
    store.publish(PASSPORT_PATH, VC, f"{header}.{forged.rstrip('=')}.{signature}")
    with pytest.raises(BadSignatureError):
        run(verify, {})
