"""No public page shows a trainee's identity, a workshop's private details or a
withheld country. Recognisable values go into every private field; then every
public page is crawled (links followed, plus every product, workshop and batch
address, and the linkset of every batch, whose targets are followed too) and searched
for them."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import deque
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

from sqlalchemy import select

from shop.catalog.models import Product, Variant
from shop.content.pages import PAGES
from shop.extensions import db
from shop.passports.models import Credential, CredentialKind
from shop.provenance.models import Batch, Trainee, VettingKind, VettingOutcome, Workshop
from shop.provenance.services import record_vetting_event
from shop.timeutil import today
from shop.transparency.proofs import tree_size
from tests import factories as f

MARK = "QX7731ZQ"  # not hex: a job id or a hash in a log line can never match it by chance
LINK_RE = re.compile(r"""(?:href|src)=["']([^"'#]+)""")
LOC_RE = re.compile(r"<loc>([^<#]+)</loc>")  # the sitemap's pages
HREF_RE = re.compile(r'"href":\s*"([^"#]+)"')  # a linkset's targets (RFC 9264 JSON)
TEXT_TYPES = (
    "text/", "image/svg+xml", "application/json", "application/xml", "application/linkset+json",
)  # fmt: skip
LINKSET = {"Accept": "application/linkset+json"}
CREDENTIAL_RE = re.compile(r"http://localhost/credentials/conformity/[A-Za-z0-9_-]+")
PLANTED_IDS = 7_731_000  # the planted trainees' ids, from here up
BUYER_MARK = "BQ9920ZB"  # the buyer's details: theirs to see on their order page, no one else's


def plant_secrets() -> list[str]:
    """A workshop and trainees whose every private field holds a marker."""
    w = f.workshop(
        slug="secret-studio",
        name="Quiet Studio",
        country_code="MN",
        country_public=False,
        region="",
        address=f"PRIVATE-ADDRESS-{MARK}",
        contact=f"PRIVATE-CONTACT-{MARK}",
        head_count=98_765,
        latitude=47.918_731,
        longitude=106.917_731,
    )
    f.vet(w)
    record_vetting_event(
        w,
        kind=VettingKind.CONCERN_RAISED,
        occurred_on=today() - timedelta(days=3),
        author=f"PRIVATE-AUTHOR-{MARK}",
        outcome=VettingOutcome.NEEDS_ACTION,
        notes=f"PRIVATE-NOTES-{MARK}",
    )
    makers = [
        f.trainee(
            w,
            id=PLANTED_IDS + i,  # an id no page number or price could match by chance
            code=f"PRIVCODE{MARK}{i}",
            legal_name=f"PRIVATE-LEGAL-{MARK}-{i}",
            alias=f"PRIVATEALIAS{MARK}{i}",
            alias_consent=False,
            cohort=f"PRIVATE-COHORT-{MARK}",
        )
        for i in range(3)
    ]
    p = f.product(w, name="Quiet Necklace", slug="quiet-necklace")
    f.batch(p.variants[0], code="QS-2026-01", makers=[(m, 1) for m in makers])
    return [
        MARK, "Mongolia", "98765", "98,765", "47.918", "106.917",
    ]  # fmt: skip


def api_addresses() -> list[str]:
    """Every answer of the partner API (issue 12): its listings (whole, in one page each),
    each product, workshop and batch, each batch's check, its document and reference."""
    urls = ["/api/v1/openapi.json", "/api/v1/docs"]
    urls += [f"/api/v1/{listing}?limit=100" for listing in ("products", "workshops", "batches")]
    urls += [f"/api/v1/products/{slug}" for slug in db.session.scalars(select(Product.slug))]
    urls += [f"/api/v1/workshops/{slug}" for slug in db.session.scalars(select(Workshop.slug))]
    for code in db.session.scalars(select(Batch.code)):
        urls += [f"/api/v1/batches/{code}", f"/api/v1/batches/{code}/verify"]
    return urls


def log_addresses() -> list[str]:
    """Every kind of answer of the transparency log (issue 13): the checkpoints, the key,
    the script, every entry, an inclusion and a consistency proof."""
    size = tree_size()
    assert size >= 2, "the log needs sales to be looked at"
    return [
        "/log/checkpoint", "/log/checkpoints", "/log/key", "/log/verify_log.py",
        f"/log/entries?start=0&end={size}", f"/log/proof/inclusion?index={size - 1}&size={size}",
        f"/log/proof/consistency?from=1&to={size}",
    ]  # fmt: skip


def crawl(client, start: list[str], limit: int = 600, headers: dict | None = None):
    """Every page reached from `start` (with `headers` on the first requests: a linkset's
    Accept), by its links, a sitemap's pages and a linkset's targets."""
    seen, queue, pages = set(), deque(start), {}
    first = set(start)
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, headers=headers if url in first else None)
        assert response.status_code < 500, url
        if response.status_code in (301, 302, 303, 307, 308):
            queue.append(response.headers["Location"])
            continue
        if not response.mimetype.startswith(TEXT_TYPES):
            continue
        body = response.get_data(as_text=True)
        pages[url] = body
        for link in LINK_RE.findall(body) + LOC_RE.findall(body) + HREF_RE.findall(body):
            absolute = urljoin(url, link.replace("&amp;", "&"))
            parts = urlsplit(absolute)
            if parts.netloc in ("", "localhost") and parts.path.startswith("/"):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return pages


def signed_credentials(client, codes, slugs, conformity) -> dict[str, str]:
    """Every passport (each version), facility record (each version) and conformity
    credential, the status list and the DID document: the JWS payloads decoded, since a
    sentinel inside one would be base64url on the wire."""
    found, queue = {}, ["/.well-known/did.json", "/credentials/status/1"]
    queue += [f"/credentials/conformity/{public_id}" for public_id in conformity]
    queue += [f"/p/{code}/passport" for code in codes]
    queue += [f"/workshops/{slug}/facility-record" for slug in slugs]
    while queue:
        url = queue.pop()
        if url in found:
            continue
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        if response.mimetype == "application/vc+jwt":
            header, claims, _signature = body.split(".")
            body = "\n".join(b64decode(part).decode() for part in (header, claims))
            current = json.loads(b64decode(claims))["id"].removeprefix("http://localhost")
            if url.endswith(("/passport", "/facility-record")):  # and every version before
                versions = int(current.rsplit("/", 1)[1])
                queue += [f"{url}/{v}" for v in range(1, versions + 1)]
            queue += [link.removeprefix("http://localhost") for link in CREDENTIAL_RE.findall(body)]
        found[url] = body
    return found


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_no_public_page_reveals_private_provenance(app, client, caplog):
    caplog.set_level(logging.DEBUG)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        secrets = plant_secrets()
        db.session.commit()
        trainees = db.session.scalars(select(Trainee)).all()
        # every trainee's legal name and code, demo ones included
        secrets += [t.legal_name for t in trainees] + [t.code for t in trainees]
        secrets += [t.alias for t in trainees if t.alias and not t.alias_consent]
        workshops = db.session.scalars(select(Workshop)).all()
        secrets += [w.address for w in workshops if w.address]
        secrets += [w.contact for w in workshops if w.contact]
        start = ["/", "/products", "/workshops", "/healthz", "/no-such-page"]
        start += ["/robots.txt", "/sitemap.xml"]
        start += [f"/products/{slug}" for slug in db.session.scalars(select(Product.slug))]
        start += [f"/workshops/{w.slug}" for w in workshops]
        codes = list(db.session.scalars(select(Batch.code)))
        conformity = db.session.scalars(
            select(Credential.public_id).where(Credential.kind == CredentialKind.CONFORMITY)
        ).all()
        for code in codes:
            start += [f"/p/{code}", f"/p/{code}/qr.svg", f"/p/{code}?linkType=linkset"]
        start += [f"/products?q={s}" for s in (MARK, "Mongolia")]
        variants = db.session.scalar(select(db.func.count(Variant.id)))
        api_urls = api_addresses()
        start += api_urls
        secrets += [str(t.id) for t in trainees if t.id >= PLANTED_IDS]
        log_urls = log_addresses()
        start += log_urls
        size = tree_size()

    pages = crawl(client, start)
    # The linkset of every batch, as a client asking by Accept gets it.
    linksets = crawl(client, [f"/p/{code}" for code in codes], headers=LINKSET)
    assert all('"linkset"' in linksets[f"/p/{code}"] for code in codes)
    assert '"linkset"' in pages["/p/QS-2026-01?linkType=linkset"]
    pages.update({f"{url} (linkset)": body for url, body in linksets.items()})
    pages.update(signed_credentials(client, codes, [w.slug for w in workshops], conformity))
    assert len(pages) > 40 and variants > 20  # the crawl really covered the store
    assert "/p/QS-2026-01" in pages and "/workshops/secret-studio" in pages
    # the content pages, reached from the footer, with the demo's text (seed-demo's)
    assert [s.slug for s in PAGES if f"/pages/{s.slug}" not in pages] == []
    assert "within 30 days of delivery" in pages["/pages/returns"]
    assert "never publish a maker" in pages["/pages/privacy"]
    assert "/robots.txt" in pages and "/p/QS-2026-01" in pages["/sitemap.xml"]
    # every answer of the partner API, the secret studio's records among them
    assert [url for url in api_urls if url not in pages] == []
    assert '"slug":"secret-studio"' in pages["/api/v1/workshops/secret-studio"]
    assert '"batch":"QS-2026-01"' in pages["/api/v1/batches/QS-2026-01/verify"]
    assert "quiet-necklace" in pages["/api/v1/products?limit=100"]
    # the signed credentials of the secret workshop and its batch were read too, decoded
    secret = [
        pages[u] for u in ("/p/QS-2026-01/passport", "/workshops/secret-studio/facility-record")
    ]
    assert all("Quiet" in body for body in secret)
    assert not any(word in body for body in secret for word in ('"MN"', "countryOf", "address"))
    assert sum("/credentials/conformity/" in url for url in pages) >= 5 * 5 + 5
    assert "/.well-known/did.json" in pages and "/credentials/status/1" in pages
    # every answer of the transparency log, its whole list of entries among them
    assert [url for url in log_urls if url not in pages] == []
    entries = json.loads(pages[log_urls[4]])["entries"]
    assert len(entries) == size and pages["/log/checkpoint"].startswith("localhost/log\n")

    leaks = [
        (url, secret)
        for url, body in pages.items()
        for secret in secrets
        if secret and secret in body and not url.startswith("/products?q=")
    ]
    assert leaks == []
    # a search for a private value finds nothing and echoes only the query
    for term in (MARK, "Mongolia"):
        body = pages[f"/products?q={term}"]
        assert "No products match" in body
    # and nothing private reaches the logs either
    assert [s for s in secrets if s in caplog.text] == []


def test_a_batch_page_never_names_its_makers_even_with_consent(client, ctx):
    w = f.workshop()
    makers = [f.trainee(w, alias=f"Alias{i}", alias_consent=True) for i in range(4)]
    p = f.product(w)
    f.batch(p.variants[0], code="B-CONSENT", makers=[(m, 1) for m in makers])
    db.session.commit()
    page = client.get("/p/B-CONSENT").get_data(as_text=True)
    assert not any(m.alias in page or m.code in page for m in makers)


def _planted_sale():
    """The planted workshop's necklace, paid for by a buyer whose details are markers too:
    the planted makers' sale shares go into the log."""
    from shop.orders import cart as carts
    from shop.orders.checkout import BuyerDetails, place_order
    from tests.training.conftest import pay

    secrets = plant_secrets()
    db.session.commit()
    necklace = db.session.scalars(select(Product).where(Product.slug == "quiet-necklace")).one()
    buyer = BuyerDetails(
        email=f"buyer.{BUYER_MARK.lower()}@example.com", name=f"Buyer {BUYER_MARK}",
        address_line1=f"Street {BUYER_MARK}", address_line2="", city="Lyon",
        postal_code="69001", country_code="FR", shipping_method="standard",
    )  # fmt: skip
    cart = {}
    carts.write(cart, {necklace.variants[0].id: 3})
    order = place_order(cart, buyer, gateway_name="dummy", currency="USD")
    assert pay(order) == "paid"
    db.session.commit()
    makers = db.session.scalars(select(Trainee).where(Trainee.id >= PLANTED_IDS)).all()
    assert len(makers) == 3
    for t in makers:
        secrets += [t.legal_name, t.code, t.alias, t.cohort, str(t.id), f"trainee:{t.id}"]
    return order, makers, secrets


def test_the_log_and_the_buyers_order_page_name_no_maker_order_or_buyer(app, client, ctx):
    order, makers, secrets = _planted_sale()
    of_the_order = [order.number, order.token, order.email, BUYER_MARK]
    log = {}
    for url in log_addresses():
        response = client.get(url)
        assert response.status_code == 200, url
        log[url] = response.get_data(as_text=True)
    size = tree_size()
    entries = json.loads(log[f"/log/entries?start=0&end={size}"])["entries"]
    assert sum(json.loads(e["leaf"])["kind"] == "sale_share" for e in entries) >= len(makers)
    leaks = [(url, s) for url, body in log.items() for s in secrets + of_the_order if s in body]
    assert leaks == []

    # The buyer's own page shows their order, of course, and the log entries of its
    # shares; never who made it, nor how many.
    page = client.get(f"/orders/{order.token}").get_data(as_text=True)
    assert order.number in page and "/log/entries?start=" in page
    assert [s for s in secrets if s in page] == []
    assert not re.search(r"\b3 makers?\b", page)


def test_a_receipt_never_shows_her_legal_name(app, ctx):
    from tests.conftest import client_as

    _order, makers, _secrets = _planted_sale()
    staff = client_as(app, "staff")
    for maker in makers:
        statement = staff.get(f"/staff/trainees/{maker.id}").get_data(as_text=True)
        (receipt_url,) = re.findall(r'href="(/staff/trainees/\d+/receipts/\d+)"', statement)
        response = staff.get(receipt_url)
        assert response.status_code == 200, receipt_url
        page = response.get_data(as_text=True)
        assert maker.code in page  # she is told by her code
        assert maker.legal_name not in page and maker.alias not in page
        assert maker.cohort not in page and "Quiet Studio" not in page
