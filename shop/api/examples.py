"""Examples of the partner API's answers, shown in its OpenAPI document and reference
page (shaped like the demo store's data; the URLs on https://shop.example)."""

from __future__ import annotations

BASE = "https://shop.example"


def _money(amount: int) -> dict:
    return {"amount": amount, "currency": "USD", "decimal": f"{amount // 100}.{amount % 100:02d}"}


PRODUCT = {
    "slug": "buy-her-bag-tote",
    "name": "Buy Her Bag Tote",
    "description": "A heavy cotton tote, screen-printed with the line “Buy Her Bag, Not Her Body”.",
    "category": {"slug": "bags", "name": "Bags"},
    "workshop": {"slug": "mekong-stitch-works", "name": "Mekong Stitch Works"},
    "impact_share_bps": 1000,
    "available": True,
    "variants": [
        {
            "sku": "TOTE-BHB-NAT",
            "options": {"colour": "natural"},
            "price": _money(2400),
            "training_share": _money(240),
            "availability": "in_stock",
        },
        {
            "sku": "TOTE-BHB-BLK",
            "options": {"colour": "black"},
            "price": _money(2400),
            "training_share": _money(240),
            "availability": "out_of_stock",
        },
    ],
    "url": f"{BASE}/products/buy-her-bag-tote",
}

WORKSHOP = {
    "slug": "mekong-stitch-works",
    "name": "Mekong Stitch Works",
    "kind": "production_site",
    "country": {"code": "KH", "name": "Cambodia"},
    "region": "Phnom Penh",
    "location_withheld": False,
    "crafts": ["sewing", "screen printing"],
    "story": "The programme's own production site, where graduates work for a wage.",
    "partner_since": "2019-06",
    "vetting": {
        "vetted": True,
        "suspended": False,
        "steps_done": ["interview", "initial_site_visit", "standards_check", "agreement_signed"],
        "last_visit_month": "2026-02",
    },
    "url": f"{BASE}/workshops/mekong-stitch-works",
}

BATCH_CODE = "MS-2026-03-BHB-N"
BATCH = {
    "code": BATCH_CODE,
    "produced_month": "2026-03",
    "materials": "12 oz cotton canvas, water-based ink",
    "product": {"slug": "buy-her-bag-tote", "name": "Buy Her Bag Tote"},
    "variant": {"sku": "TOTE-BHB-NAT", "options": {"colour": "natural"}},
    "workshop": {"slug": "mekong-stitch-works", "name": "Mekong Stitch Works"},
    "links": {
        "page": f"{BASE}/p/{BATCH_CODE}",
        "passport": f"{BASE}/p/{BATCH_CODE}/passport",
        "linkset": f"{BASE}/p/{BATCH_CODE}?linkType=linkset",
        "verify": f"{BASE}/api/v1/batches/{BATCH_CODE}/verify",
    },
}

CHECK = {
    "batch": BATCH_CODE,
    "workshop": {"slug": "mekong-stitch-works", "vetted": True, "suspended": False},
    "made_by_vetted_workshop": True,
    "passport": {"url": f"{BASE}/p/{BATCH_CODE}/passport", "status": "valid"},
    "verdict": "ok",
    "reasons": [],
}

NEXT = (
    f"{BASE}/api/v1/products?cursor=WyJwcm9kdWN0cyIsImJ1eS1oZXItYmFnLXRvdGUiXQ.c2lnbmF0dXJl&limit=1"
)


def page(item: dict, path: str) -> dict:
    return {"items": [item], "next": NEXT.replace("/api/v1/products", path)}


def error(status: int, message: str) -> dict:
    return {"error": {"status": status, "message": message}}
