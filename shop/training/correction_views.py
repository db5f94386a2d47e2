"""Staff pages for corrections under /staff/: one staff member proposes, another decides.

The routes join the /staff/ blueprint, so they are guarded with the rest of it.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from shop.audit.services import record
from shop.extensions import db
from shop.staff import staff
from shop.training import services
from shop.training.models import CorrectionRequest
from shop.training.views import CorrectionForm, DecisionForm, _refuse, _trainee_or_404
from shop.unit_of_work import abandon


@staff.post("/trainees/<int:trainee_id>/corrections")
def correction(trainee_id: int):
    found = _trainee_or_404(trainee_id)
    form = CorrectionForm()
    if not form.validate_on_submit():
        return _refuse(found, "Please correct the correction.", correction_form=form)
    try:
        proposal, new = services.propose_correction(
            trainee_id=found.id, amount=form.amount.cents, reason=form.reason.data,
            proposed_by=current_user, request_key=form.request_key.data,
        )  # fmt: skip
    except services.TrainingError as exc:
        return _refuse(found, str(exc), correction_form=form)
    if new:
        # The reason stays with the correction, not in the append-only log: staff write
        # it freely and it may name someone.
        record("correction.propose", "correction", proposal.id, summary=f"{found.code}: proposed",
               after={"amount": proposal.amount, "trainee": found.code})  # fmt: skip
    flash(
        "Correction proposed; another staff member must approve it."
        if new
        else "That correction was already proposed.",
        "success",
    )
    return redirect(url_for("staff.trainee", trainee_id=trainee_id))


@staff.get("/corrections")
def corrections():
    return render_template(
        "staff/corrections.html", pending=services.pending_corrections(), form=DecisionForm()
    )


@staff.post("/corrections/<int:correction_id>/<any(approve, reject):decision>")
def decide_correction(correction_id: int, decision: str):
    form = DecisionForm()
    asked = db.session.get(CorrectionRequest, correction_id)
    back = url_for("staff.corrections")
    if asked is not None and request.form.get("back") == "trainee":
        back = url_for("staff.trainee", trainee_id=asked.trainee_id)
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(back)
    try:
        if decision == "approve":
            done = services.approve_correction(correction_id, current_user)
            message = "Correction approved: it is posted to the ledger."
        else:
            done = services.reject_correction(correction_id, current_user, form.note.data or "")
            message = "Correction rejected; nothing was posted."
        record(f"correction.{decision}", "correction", done.id, summary=done.status.label,
               before={"status": "requested"}, after={"status": done.status.value, "amount": done.amount})  # fmt: skip
    except services.TrainingError as exc:
        abandon()
        flash(str(exc), "error")
        return redirect(back)
    flash(message, "success")
    return redirect(back)
