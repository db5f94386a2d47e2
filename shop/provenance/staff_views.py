"""Staff back office for people and partners: trainees (the legal name is shown only
here), workshops, their private details and vetting. Routes join the /staff/
blueprint, so they share its single role check."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from shop.audit.services import record
from shop.extensions import db
from shop.provenance.models import (
    Trainee,
    VettingKind,
    VettingOutcome,
    Workshop,
    WorkshopStatus,
)
from shop.provenance.services import ProvenanceError, record_vetting_event, summary_for
from shop.provenance.trainees import TraineeDetails, TraineeRefused, save_trainee
from shop.provenance.workshop_details import set_private_details
from shop.staff import staff
from shop.timeutil import today
from shop.unit_of_work import abandon
from shop.web import WholeNumberField


def _workshop_choices() -> list[SelectChoice]:
    rows = db.session.execute(select(Workshop.id, Workshop.name).order_by(Workshop.name))
    return [SelectChoice(w.id, w.name) for w in rows]


class TraineeForm(FlaskForm):
    """Only reads what was typed: the rules are shop.provenance.trainees'."""

    code = StringField("Code")
    legal_name = StringField("Legal name (staff only)")
    alias = StringField("Public alias")
    alias_consent = BooleanField("She consents to the alias being shown publicly")
    workshop_id = SelectField("Workshop", coerce=int)
    cohort = StringField("Cohort")
    active = BooleanField("Active", default=True)

    def details(self) -> TraineeDetails:
        return TraineeDetails(
            code=self.code.data or "", legal_name=self.legal_name.data or "",
            alias=self.alias.data or "", alias_consent=self.alias_consent.data,
            workshop_id=self.workshop_id.data, cohort=self.cohort.data or "",
            active=self.active.data,
        )  # fmt: skip


@staff.route("/trainees/new", methods=["GET", "POST"])
def new_trainee():
    return _trainee_form(None)


@staff.route("/trainees/<int:trainee_id>/edit", methods=["GET", "POST"])
def edit_trainee(trainee_id: int):
    return _trainee_form(db.session.get(Trainee, trainee_id) or abort(404))


def _trainee_form(trainee: Trainee | None):
    form = TraineeForm(obj=trainee)
    form.workshop_id.choices = _workshop_choices()
    status = 200
    if form.validate_on_submit():
        try:
            saved = save_trainee(form.details(), trainee)
        except TraineeRefused as refused:
            abandon()
            for name, message in refused.problems:
                getattr(form, name).errors.append(message)
            flash(f"Nothing was saved: {refused}.", "error")
            status = 400
        else:
            trainee_id = saved.id
            flash("Trainee saved.", "success")
            return redirect(url_for("staff.trainee", trainee_id=trainee_id))
    elif request.method == "POST":
        status = 400
    return render_template("staff/trainee_form.html", form=form, trainee=trainee), status


# --- workshops and vetting -----------------------------------------------------------


class VettingForm(FlaskForm):
    kind = SelectField(
        "What happened", choices=[SelectChoice(k.value, k.label) for k in VettingKind]
    )
    occurred_on = DateField("On", validators=[InputRequired(message="Enter the date.")])
    outcome = SelectField(
        "Outcome",
        choices=[
            SelectChoice(o.value, o.value.replace("_", " ").capitalize()) for o in VettingOutcome
        ],
    )
    notes = TextAreaField("Private notes", validators=[Optional(), Length(max=5000)])


class WorkshopDetailsForm(FlaskForm):
    address = TextAreaField("Address")
    contact = TextAreaField("Contact")
    head_count = WholeNumberField("Head count", validators=[Optional()])


class ReinstateForm(FlaskForm):
    reason = StringField("Why sales can resume", validators=[InputRequired(), Length(max=300)])


def _interval() -> int:
    return current_app.config["VETTING_VISIT_INTERVAL_DAYS"]


@staff.get("/workshops")
def workshops():
    rows = db.session.scalars(
        select(Workshop).options(selectinload(Workshop.vetting_events)).order_by(Workshop.name)
    ).all()
    summaries = [(w, summary_for(w, _interval())) for w in rows]
    if request.args.get("overdue"):
        summaries = [(w, s) for w, s in summaries if s.overdue]
    return render_template(
        "staff/workshops.html", summaries=summaries, interval=_interval(),
        overdue_only=bool(request.args.get("overdue")),
    )  # fmt: skip


def _workshop_or_404(workshop_id: int) -> Workshop:
    return db.one_or_404(
        select(Workshop)
        .where(Workshop.id == workshop_id)
        .options(selectinload(Workshop.vetting_events), selectinload(Workshop.trainees))
    )


def _workshop_page(
    workshop: Workshop, status: int = 200, vetting_form: VettingForm | None = None,
    details_form: WorkshopDetailsForm | None = None,
):  # fmt: skip
    return render_template(
        "staff/workshop.html", workshop=workshop, summary=summary_for(workshop, _interval()),
        events=sorted(workshop.vetting_events, key=lambda e: (e.occurred_on, e.id), reverse=True),
        vetting_form=vetting_form or VettingForm(occurred_on=today()),
        reinstate_form=ReinstateForm(), interval=_interval(),
        details_form=details_form or WorkshopDetailsForm(obj=workshop, prefix="details"),
    ), status  # fmt: skip


@staff.get("/workshops/<int:workshop_id>")
def workshop(workshop_id: int):
    return _workshop_page(_workshop_or_404(workshop_id))


@staff.post("/workshops/<int:workshop_id>/vetting")
def record_vetting(workshop_id: int):
    found = _workshop_or_404(workshop_id)
    form = VettingForm()
    if not form.validate_on_submit():
        flash("Please correct the vetting event.", "error")
        return _workshop_page(found, 400, form)
    before = {"status": found.status.value}
    try:
        event = record_vetting_event(
            found, kind=VettingKind(form.kind.data), occurred_on=form.occurred_on.data,
            author=current_user.label, outcome=VettingOutcome(form.outcome.data),
            notes=(form.notes.data or "").strip(),
        )  # fmt: skip
    except ProvenanceError as exc:
        flash(f"Nothing was recorded: {exc}.", "error")
        page = _workshop_page(found, 400, form)
        abandon()
        return page
    record("vetting.record", "workshop", found.id, summary=f"{found.name}: {event.kind.label}",
           before=before, after={"status": found.status.value, "event": event.kind.value,
                                 "outcome": event.outcome.value})  # fmt: skip
    suspended = found.status == WorkshopStatus.SUSPENDED and before["status"] != "suspended"
    flash("Suspended: its products cannot be bought from now on." if suspended
          else "Vetting event recorded.", "success")  # fmt: skip
    return redirect(url_for("staff.workshop", workshop_id=workshop_id))


@staff.post("/workshops/<int:workshop_id>/details")
def workshop_details(workshop_id: int):
    found = _workshop_or_404(workshop_id)
    form = WorkshopDetailsForm(prefix="details")
    if not form.validate_on_submit():
        flash("Please correct the private details.", "error")
        return _workshop_page(found, 400, details_form=form)
    try:
        set_private_details(found, address=form.address.data or "",
                            contact=form.contact.data or "", head_count=form.head_count.data)  # fmt: skip
    except ProvenanceError as exc:
        abandon()
        flash(f"Nothing was saved: {exc}.", "error")
        return _workshop_page(_workshop_or_404(workshop_id), 400, details_form=form)
    flash("Private details saved.", "success")
    return redirect(url_for("staff.workshop", workshop_id=workshop_id))


@staff.post("/workshops/<int:workshop_id>/reinstate")
def reinstate(workshop_id: int):
    found = _workshop_or_404(workshop_id)
    form = ReinstateForm()
    if not form.validate_on_submit():
        flash("Say why sales can resume.", "error")
        return _workshop_page(found, 400)
    if found.status != WorkshopStatus.SUSPENDED:
        flash("This workshop is not suspended.", "error")
        return redirect(url_for("staff.workshop", workshop_id=workshop_id))
    found.status = WorkshopStatus.ACTIVE
    record("workshop.reinstate", "workshop", found.id, summary=form.reason.data.strip(),
           before={"status": "suspended"}, after={"status": "active"})  # fmt: skip
    flash("Sales from this workshop have resumed.", "success")
    return redirect(url_for("staff.workshop", workshop_id=workshop_id))
