"""Staff pages for corrections under /staff/: one staff member proposes, another decides.

The routes join the /staff/ blueprint, so they are guarded with the rest of it.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shop.audit.services import record
from shop.confirmations import (
    ConfirmationRefused,
    confirm_page,
    confirmation_token,
    use_confirmation,
)
from shop.extensions import db
from shop.money import money_text
from shop.staff import staff
from shop.training import services
from shop.training.forms import CorrectionForm, DecisionForm
from shop.training.models import CorrectionRequest, CorrectionStatus
from shop.training.views import (
    _refuse,
    _trainee_or_404,
    confirm_refused,
    decision_refused,
    nowrap,
)
from shop.unit_of_work import abandon


@staff.post("/trainees/<int:trainee_id>/corrections")
def correction(trainee_id: int):
    found = _trainee_or_404(trainee_id)
    form = CorrectionForm()
    if not form.validate_on_submit():
        return _refuse(found, correction_form=form)
    try:
        proposal, new = services.propose_correction(
            trainee_id=found.id, amount=form.amount.cents, reason=form.reason.data,
            proposed_by=current_user, request_key=form.request_key.data,
        )  # fmt: skip
    except services.TrainingError as exc:
        return _refuse(found, exc, correction_form=form)
    if new:
        # The reason stays with the correction, not in the append-only log: staff write
        # it freely and it may name someone.
        record("correction.propose", "correction", proposal.id, summary=f"{found.code}: proposed",
               after={"amount": proposal.amount, "trainee": found.code})  # fmt: skip
    flash(
        _("Correction proposed; another staff member must approve it.")
        if new
        else _("That correction was already proposed."),
        "success",
    )
    return redirect(url_for("staff.trainee", trainee_id=trainee_id))


@staff.get("/corrections")
def corrections():
    return render_template(
        "staff/corrections.html", pending=services.pending_corrections(), form=DecisionForm()
    )


@staff.get("/corrections/<int:correction_id>/approve")
def confirm_correction(correction_id: int):
    """What approving posts, to whose account, with the button that posts it."""
    c = db.session.scalars(
        select(CorrectionRequest).where(CorrectionRequest.id == correction_id)
        .options(joinedload(CorrectionRequest.trainee), joinedload(CorrectionRequest.requested_by))
    ).one_or_none() or abort(404)  # fmt: skip
    back = "trainee" if request.args.get("back") == "trainee" else ""
    back_url = _back_url(c, back)
    if c.status != CorrectionStatus.REQUESTED or c.requested_by_id == current_user.id:
        flash(_("This correction was already approved.") if c.status == CorrectionStatus.APPROVED
              else _("This correction was already rejected.") if c.status == CorrectionStatus.REJECTED
              else _("You proposed this correction: another staff member must approve it."), "error")  # fmt: skip
        return redirect(back_url)
    amount, code = money_text(abs(c.amount), c.currency), nowrap(c.trainee.code)
    # The message is escaped as text; the code keeps its nowrap span (Markup's % escapes the rest).
    question = escape(_("Credit %(amount)s to trainee %(code)s’s account?") if c.amount > 0
                      else _("Take %(amount)s back from trainee %(code)s’s account?")) % {"amount": amount, "code": code}  # fmt: skip
    return confirm_page(
        area="staff", question=question, yes=_("Yes, approve and post %(amount)s", amount=amount),
        action_url=url_for("staff.decide_correction", correction_id=c.id, decision="approve"),
        back_url=back_url, token=confirmation_token("correction.approve", c.id, c.amount),
        facts=[(_("Reason"), c.reason), (_("Proposed"), _("%(day)s by %(person)s", day=current_app.jinja_env.filters["day"](c.requested_at), person=c.requested_by.label))],
        notes=[_("The correction is posted to the ledger at once; only another correction can undo it.")],
        extra={"back": back} if back else None,
    )  # fmt: skip


def _back_url(asked: CorrectionRequest | None, back: str) -> str:
    if asked is not None and back == "trainee":
        return url_for("staff.trainee", trainee_id=asked.trainee_id)
    return url_for("staff.corrections")


@staff.post("/corrections/<int:correction_id>/<any(approve, reject):decision>")
def decide_correction(correction_id: int, decision: str):
    form = DecisionForm()
    back = _back_url(db.session.get(CorrectionRequest, correction_id), request.form.get("back", ""))
    if not form.validate_on_submit():
        flash(decision_refused(form), "error")
        return redirect(back)
    try:
        if decision == "approve":
            confirmed = use_confirmation("correction.approve", correction_id)
            done = services.approve_correction(correction_id, current_user)
            if done.amount != confirmed.amount:  # never posts what was not shown
                raise services.TrainingError(
                    _("The correction changed after the confirmation page.")
                )
            message = _("Correction approved: it is posted to the ledger.")
        else:
            done = services.reject_correction(correction_id, current_user, form.note.data or "")
            message = _("Correction rejected; nothing was posted.")
        record(f"correction.{decision}", "correction", done.id, summary=done.status.value.capitalize(),
               before={"status": "requested"}, after={"status": done.status.value, "amount": done.amount})  # fmt: skip
    except ConfirmationRefused as exc:
        return confirm_refused(exc, back)
    except services.TrainingError as exc:
        abandon()
        flash(str(exc), "error")
        return redirect(back)
    flash(message, "success")
    return redirect(back)
