"""Content pages: which there are, reading them, and an admin's edit (flushed with its
audit entry, never committed here)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from shop.audit.services import record
from shop.content.models import Page
from shop.extensions import db
from shop.timeutil import utcnow

TITLE_MAX = 120
BODY_MAX = 20_000


@dataclass(frozen=True)
class PageSlot:
    """A page the store always has, at /pages/<slug>; `link` is its name in the footer
    (fixed, so the footer needs no query and stays the same on every cached page)."""

    slug: str
    title: str  # the title the migration gives it; admins may change it
    link: str  # lazy: in the reader's language
    about: str  # what belongs on it, for the admin's edit form


PAGES = (
    PageSlot("shipping", "Shipping", _l("Shipping"),
             _l("Where orders ship from, how long they take, where you ship to. "
                "The rates are added below the text from SHIPPING_RATES.")),
    PageSlot("returns", "Returns and refunds", _l("Returns"),
             _l("How long buyers have to return an item, how, and how refunds are paid.")),
    PageSlot("contact", "Contact us", _l("Contact"),
             _l("How to reach the store: an email address, and what to include.")),
    PageSlot("privacy", "Privacy", _l("Privacy"),
             _l("What the store keeps about buyers and why; that makers are never named.")),
    PageSlot("terms", "Terms of sale", _l("Terms"),
             _l("The terms every order is placed under.")),
)  # fmt: skip
SLOTS = {slot.slug: slot for slot in PAGES}


TITLE_MISSING = _l("Enter a title.")
TITLE_TOO_LONG = _l("A title is at most %(most)s characters.", most=TITLE_MAX)
BODY_TOO_LONG = _l("The text is at most %(most)s characters.", most=f"{BODY_MAX:,}")


class PageError(ValueError):
    """An edit the store refuses; the message is for the admin, `field` the one at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def page_by_slug(slug: str) -> Page | None:
    if slug not in SLOTS:
        return None
    return db.session.scalars(select(Page).where(Page.slug == slug)).one_or_none()


def all_pages() -> list[Page]:
    """The pages in footer order (one statement)."""
    found = {p.slug: p for p in db.session.scalars(select(Page).where(Page.slug.in_(SLOTS)))}
    return [found[slot.slug] for slot in PAGES if slot.slug in found]


def clean_body(text: str | None) -> str:
    """A textarea sends CRLF line ends: kept as LF, so an unchanged text compares equal."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def check(title: str, body: str) -> None:
    if not title:
        raise PageError(TITLE_MISSING, "title")
    if len(title) > TITLE_MAX:
        raise PageError(TITLE_TOO_LONG, "title")
    if len(body) > BODY_MAX:
        raise PageError(BODY_TOO_LONG, "body")


def update_page(page: Page, title: str, body: str) -> bool:
    """Give `page` this title and text, recorded in the audit log. False when both were
    already so (nothing written, nothing recorded)."""
    title, body = title.strip(), clean_body(body)
    check(title, body)
    if (page.title, page.body) == (title, body):
        return False
    before = {"title": page.title, "body": page.body}
    page.title, page.body, page.updated_at = title, body, utcnow()
    db.session.flush()
    record("page.update", "page", page.id, summary=f"/pages/{page.slug}: {title}",
           before=before, after={"title": title, "body": body})  # fmt: skip
    return True
