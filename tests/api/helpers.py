"""What the partner API's tests share."""

from __future__ import annotations

from datetime import date

from shop.catalog.models import ProductStatus
from shop.extensions import db
from tests import factories as f


def get_json(client, url: str, status: int = 200, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json", url
    return response.get_json()


def walk(client, url: str) -> tuple[list[dict], int]:
    """Every item of a listing, following `next` from `url`; and the number of pages."""
    items, pages = [], 0
    while url:
        page = get_json(client, url)
        items += page["items"]
        pages += 1
        url = page["next"]
        assert pages < 200, "the walk does not end"
    return items, pages


def catalog(count: int) -> dict:
    """`count` vetted workshops, each with a product on sale (two variants) and a batch of
    each variant; plus a draft and an archived product that no listing may show."""
    made = {"products": [], "batches": [], "workshops": []}
    for _ in range(count):
        w = f.workshop()
        f.vet(w)
        p = f.product(w, variants=2, images=1)
        made["workshops"].append(w.slug)
        made["products"].append(p.slug)
        made["batches"].append(f.batch(p.variants[0], quantity=3).code)
        made["batches"].append(
            f.batch(p.variants[1], quantity=2, produced_month=date(2026, 1, 1)).code
        )
    db.session.commit()
    return made


def draft_and_archived() -> dict:
    w = f.workshop()
    f.vet(w)
    draft = f.product(w, status=ProductStatus.DRAFT, slug="secret-draft-bag")
    archived = f.product(w, status=ProductStatus.ARCHIVED, slug="old-archived-bag")
    draft_batch = f.batch(draft.variants[0], code="DRAFT-BATCH-1")
    archived_batch = f.batch(archived.variants[0], code="ARCHIVED-BATCH-1")
    db.session.commit()
    return {
        "workshop": w.slug,
        "draft": draft.slug,
        "archived": archived.slug,
        "draft_batch": draft_batch.code,
        "archived_batch": archived_batch.code,
    }
