"""/staff/trainees/<id>/receipts/<transfer id>: a credit's inclusion receipt, printable for
the trainee. On the staff blueprint, so guarded as every staff page (shop.staff)."""

from __future__ import annotations

import segno
from flask import abort, render_template
from flask_babel import gettext as _
from markupsafe import Markup

from shop.extensions import db
from shop.provenance.models import Trainee
from shop.staff import staff
from shop.training.models import TransferKind
from shop.transparency.receipts import NoReceipt, receipt
from shop.web import error_answer, public_url


@staff.get("/trainees/<int:trainee_id>/receipts/<int:transfer_id>")
def receipt_page(trainee_id: int, transfer_id: int):
    trainee = db.session.get(Trainee, trainee_id)
    if trainee is None:
        abort(404)
    try:
        found = receipt(trainee.id, transfer_id)
    except NoReceipt as exc:
        page, status = error_answer(404, _("No receipt for this transfer"), str(exc))
        return page, status, {"Cache-Control": "no-store"}
    proof_url = public_url("transparency.inclusion", index=found.index, size=found.size)
    page = render_template(
        "transparency/receipt.html",
        trainee_id=trainee.id,
        code=trainee.code,  # her code only: the paper never carries her name
        receipt=found,
        kind_label=_kind_label(found.entry.get("kind", "")),
        proof_url=proof_url,
        qr=_qr_svg(proof_url, _("Inclusion proof of entry %(index)s", index=found.index)),
        # The store's address as verify_log.py takes it: where /log/key is, less the path.
        base=public_url("transparency.key").removesuffix("/log/key"),
    )
    # Her commitment and the transfer on paper are hers to keep, not a shared cache's.
    return page, {"Cache-Control": "no-store"}


def _kind_label(kind: str) -> str:
    """The entry's kind as staff read it ('sale_share' -> 'Sale share'), in their language."""
    if kind in TransferKind._value2member_map_:
        return TransferKind(kind).label
    return kind.replace("_", " ").capitalize()


def _qr_svg(url: str, title: str) -> Markup:
    svg = segno.make(url, error="m").svg_inline(scale=3, border=2, dark="#000", title=title)
    return Markup(svg)  # noqa: S704  (segno's own SVG of our own URL)
