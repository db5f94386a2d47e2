"""Credentials follow what they are about, in the same transaction, whatever changed it.

Every flush notes the workshops and batches whose credentials may now say something
else: a batch recorded or changed (or recalled), a workshop created or its public
fields or status changed, a vetting event recorded, a product renamed or published, a
variant's options changed. As the transaction commits (before_commit, so in the same transaction),
`issuing.bring_up_to_date` signs new versions where the content differs and flips the
status bits of passports whose batch was recalled or whose workshop was suspended or
reinstated. The admin form, the CSV imports, the staff pages and the commands all go
through here, so none can forget to issue; a rolled-back change issues nothing, and a
failure to sign fails the commit, so nothing is ever half issued. A transaction that
changed none of these (every page view, every sale) does no work here at all.
"""

from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from shop.catalog.models import Product, Variant
from shop.database import has_table
from shop.provenance.models import Batch, VettingEvent, Workshop
from shop.visibility import public_field_names

NOTED = "shop_passports_noted"
BATCH_FIELDS = ("code", "produced_month", "materials", "variant_id", "workshop_id", "recalled_at")
PRODUCT_FIELDS = ("name", "slug", "status")  # status: a draft's batches get none
VARIANT_FIELDS = ("options", "product_id")


def _changed(obj, fields) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _noted(session: Session) -> dict[str, set[int]]:
    return session.info.setdefault(NOTED, {"workshops": set(), "batches": set(), "products": set(),
                                           "variants": set()})  # fmt: skip


def _workshop_fields() -> tuple[str, ...]:
    return (*public_field_names(Workshop), "country_code")


def _note_flush(session: Session, _context) -> None:
    # after_flush: new rows have their ids; the flush's changes are still in the history.
    noted = None
    for obj in (*session.new, *session.dirty):
        kind = type(obj)
        if kind not in (Batch, Workshop, VettingEvent, Product, Variant):
            continue
        new = obj in session.new
        if kind is Batch and (new or _changed(obj, BATCH_FIELDS)):
            noted = noted or _noted(session)
            noted["batches"].add(obj.id)
        elif kind is Workshop and (new or _changed(obj, _workshop_fields())):
            noted = noted or _noted(session)
            noted["workshops"].add(obj.id)
        elif kind is VettingEvent:
            noted = noted or _noted(session)
            noted["workshops"].add(obj.workshop_id)
        elif kind is Product and not new and _changed(obj, PRODUCT_FIELDS):
            noted = noted or _noted(session)
            noted["products"].add(obj.id)
        elif kind is Variant and not new and _changed(obj, VARIANT_FIELDS):
            noted = noted or _noted(session)
            noted["variants"].add(obj.id)


def _issue(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()
    noted = session.info.pop(NOTED, None)
    if not noted or not has_table(session.connection(), "credentials"):
        return
    from sqlalchemy import select

    from shop.passports.issuing import bring_up_to_date

    batches = set(noted["batches"])
    if noted["products"] or noted["variants"]:
        batches.update(
            session.scalars(
                select(Batch.id)
                .join(Variant, Batch.variant_id == Variant.id)
                .where(
                    Variant.id.in_(noted["variants"]) | Variant.product_id.in_(noted["products"])
                )
            )
        )
    bring_up_to_date(noted["workshops"], batches)
    session.flush()


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(NOTED, None)


def track_subjects(session_class: type[Session]) -> None:
    """Listen on every session (from create_app, once the models are mapped)."""
    for name, listener in (
        ("after_flush", _note_flush),
        ("before_commit", _issue),
        ("after_transaction_end", _forget),
    ):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)
