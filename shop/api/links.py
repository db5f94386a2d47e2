"""The absolute links the partner API gives for a batch, all on PUBLIC_BASE_URL
(shop.web.public_url): its public page, its passport, its linkset and its check."""

from __future__ import annotations

from shop.web import public_url


def batch_page_url(code: str) -> str:
    return public_url("provenance.batch", code=code)


def passport_url(code: str) -> str:
    """The batch's current passport (shop.passports)."""
    return public_url("passports.passport", code=code)


def linkset_url(code: str) -> str:
    """The batch's RFC 9264 linkset: its page asked with ?linkType=linkset."""
    return public_url("provenance.batch", code=code, linkType="linkset")


def batch_links(code: str) -> dict[str, str]:
    return {
        "page": batch_page_url(code),
        "passport": passport_url(code),
        "linkset": linkset_url(code),
        "verify": public_url("api_v1.verify_batch", code=code),
    }
