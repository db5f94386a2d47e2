"""Staff review of training accounts under /staff/, and the public /impact page.

Every /staff/ route is guarded once, for the whole blueprint: anonymous
visitors are sent to sign in, anyone without the staff role gets 403.
"""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shop.audit.services import STAFF_AREA, audit_page, record
from shop.confirmations import (
    ConfirmationRefused,
    confirm_page,
    confirmation_token,
    refused_page,
    use_confirmation,
)
from shop.extensions import db
from shop.form_problems import add_problem
from shop.list_args import ListArgs
from shop.money import money_text
from shop.page_cache.pages import public_page
from shop.provenance.models import Trainee
from shop.staff import staff
from shop.training import impact as public_impact
from shop.training import rate_confirmation as rates
from shop.training import reports, services
from shop.training.forms import (
    CorrectionForm,
    DecisionForm,
    GoalForm,
    GoalStatusForm,
    WithdrawalForm,
)
from shop.training.models import (
    DevelopmentGoal,
    GoalStatus,
    Withdrawal,
    WithdrawalPurpose,
    WithdrawalStatus,
)
from shop.transparency import proofs as transparency_log
from shop.unit_of_work import abandon
from shop.web import csv_response, int_arg, major, page_number

bp = Blueprint("training", __name__)

PER_PAGE = 50


def _currency() -> str:
    return current_app.config["STORE_CURRENCY"]


# --- public ---------------------------------------------------------------------------


@bp.get("/impact")
def impact():
    return public_page("impact", "", _impact)


def _impact() -> str:
    summary = public_impact.impact()
    return render_template(
        "training/impact.html",
        impact=summary,
        bars=reports.bar_chart(summary.chart),
        min_trainees=public_impact.PUBLIC_MIN_TRAINEES,
        log=transparency_log.published(),
    )


# --- staff ----------------------------------------------------------------------------


@staff.get("/")
def index():
    return redirect(url_for("staff.trainees"))


@staff.get("/trainees")
def trainees():
    args = ListArgs(request.args)
    workshops, cohorts = reports.filter_choices()
    workshop_choices, cohort_choices = (
        {str(i): name for i, name in workshops},
        {c: c for c in cohorts},
    )
    search = args.search("q", _("Code or alias"))
    workshop = args.choice("workshop", _("Workshop"), workshop_choices)
    cohort = args.choice("cohort", _("Cohort"), cohort_choices)
    page = page_number()
    rows, total = ([], 0) if args.problems else reports.balances(
        workshop_id=int(workshop) if workshop else None, cohort=cohort, search=search, page=page,
        per_page=PER_PAGE,
    )  # fmt: skip
    return render_template(
        "staff/trainees.html", rows=rows, total=total, page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), workshop_choices=workshop_choices,
        cohort_choices=cohort_choices, args=args, kept=args.kept,
    ), 400 if args.problems else 200  # fmt: skip


def _trainee_or_404(trainee_id: int) -> Trainee:
    trainee = db.session.scalars(
        select(Trainee).where(Trainee.id == trainee_id).options(joinedload(Trainee.workshop))
    ).one_or_none()
    if trainee is None:
        abort(404)
    return trainee


def _trainee_page(trainee: Trainee, status: int = 200, **forms):
    account = services.trainee_account(trainee.id)
    page = page_number()
    lines, count = reports.statement(account.id, page=page)
    goals = list(
        db.session.scalars(
            select(DevelopmentGoal)
            .where(DevelopmentGoal.trainee_id == trainee.id)
            .order_by(DevelopmentGoal.id)
        )
    )
    withdrawals = list(
        db.session.scalars(
            select(Withdrawal)
            .where(Withdrawal.trainee_id == trainee.id)
            .options(joinedload(Withdrawal.requested_by), joinedload(Withdrawal.decided_by))
            .order_by(Withdrawal.requested_at.desc())
        )
    )
    correction = forms.get("correction_form") or CorrectionForm()
    if not correction.request_key.data:
        correction.request_key.data = secrets.token_urlsafe(16)
    return render_template(
        "staff/trainee.html", trainee=trainee, account=account, lines=lines,
        statement_count=count, page=page, pages=max((count + 99) // 100, 1),
        progress=services.goal_progress(goals, account.balance), withdrawals=withdrawals,
        withdrawal_form=forms.get("withdrawal_form") or WithdrawalForm(),
        goal_form=forms.get("goal_form") or GoalForm(), correction_form=correction,
        goal_statuses=list(GoalStatus),
        earned_bars=reports.bar_chart(reports.earned_by_month(account.id)),
        pending=sum(w.amount for w in withdrawals if w.status == "requested"),
        corrections=services.pending_corrections(trainee.id),
    ), status  # fmt: skip


@staff.get("/trainees/<int:trainee_id>")
def trainee(trainee_id: int):
    return _trainee_page(_trainee_or_404(trainee_id))


def _refuse(trainee: Trainee, refused: services.TrainingError | None = None, **forms):
    """The trainee's page again (400) with the refused form, each problem said once: a
    field's beside it, a rule's refusal beside the field it names or in the error summary."""
    if refused is not None:
        for form in forms.values():
            add_problem(form, str(refused), refused.field)
    page = _trainee_page(trainee, 400, **forms)  # rendered before the rollback expires it
    abandon()
    return page


@staff.post("/trainees/<int:trainee_id>/withdrawals")
def request_withdrawal(trainee_id: int):
    found = _trainee_or_404(trainee_id)
    form = WithdrawalForm()
    if not form.validate_on_submit():
        return _refuse(found, withdrawal_form=form)
    try:
        withdrawal = services.request_withdrawal(
            trainee_id=found.id, amount=form.amount.cents, purpose=WithdrawalPurpose(form.purpose.data),
            payee=form.payee.data, details=form.details.data or "", requested_by=current_user,
            **rates.exchange_args(form, found.id),
        )  # fmt: skip
    except ConfirmationRefused as exc:
        return rates.refused(exc, found)
    except services.RateNeedsConfirmation as exc:
        return rates.confirm_rate(found, form, exc)
    except services.TrainingError as exc:
        return _refuse(found, exc, withdrawal_form=form)
    record("withdrawal.request", "withdrawal", withdrawal.id,
           summary=f"{found.code}: {withdrawal.purpose.label}",
           after={"amount": withdrawal.amount, "trainee": found.code,
                  **rates.audit_of(withdrawal)})  # fmt: skip
    flash(_("Withdrawal requested; another staff member must approve it."), "success")
    return redirect(url_for("staff.trainee", trainee_id=trainee_id))


@staff.get("/withdrawals")
def withdrawals():
    return render_template(
        "staff/withdrawals.html",
        pending=reports.pending_withdrawal_list(),
        form=DecisionForm(),
    )


@staff.get("/withdrawals/decided")
def withdrawal_history():
    page = page_number()
    rows, total = reports.decided_withdrawals(page, PER_PAGE)
    return render_template(
        "staff/withdrawal_history.html", rows=rows, total=total, page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
    )  # fmt: skip


def nowrap(text: str) -> Markup:
    """A code kept on one line in a question ('KH-' alone at a line's end reads badly)."""
    return Markup('<span class="nowrap">{}</span>').format(text)


def decision_refused(form: DecisionForm) -> str:
    """Why a decision's form was refused: its note's own message (too long), or, when the
    CSRF check failed (or anything else), that the form expired."""
    if form.note.errors and "csrf_token" not in form.errors:
        return str(form.note.errors[0])
    return _("The form expired; please try again.")


def confirm_refused(exc: ConfirmationRefused, back_url: str):
    return refused_page(exc, area="staff", back_url=back_url, back_label=_("Back to the list"))


@staff.get("/withdrawals/<int:withdrawal_id>/approve")
def confirm_withdrawal(withdrawal_id: int):
    """What approving pays, to whom, from whose account, with the button that pays it."""
    w = db.session.scalars(
        select(Withdrawal).where(Withdrawal.id == withdrawal_id)
        .options(joinedload(Withdrawal.trainee), joinedload(Withdrawal.requested_by))
    ).one_or_none() or abort(404)  # fmt: skip
    if w.status != WithdrawalStatus.REQUESTED or w.requested_by_id == current_user.id:
        flash(_("This withdrawal was already approved.") if w.status == WithdrawalStatus.APPROVED
              else _("This withdrawal was already rejected.") if w.status == WithdrawalStatus.REJECTED
              else _("You requested this withdrawal: another staff member must approve it."), "error")  # fmt: skip
        return redirect(url_for("staff.withdrawals"))
    balance = services.trainee_account(w.trainee_id).balance
    amount = money_text(w.amount, w.currency)
    return confirm_page(
        area="staff", question=escape(_("Pay %(amount)s to %(payee)s from trainee %(code)s’s account?"))
        % {"amount": amount, "payee": w.payee, "code": nowrap(w.trainee.code)},
        yes=_("Yes, approve and pay %(amount)s", amount=amount),
        action_url=url_for("staff.decide_withdrawal", withdrawal_id=w.id, decision="approve"),
        back_url=url_for("staff.withdrawals"),
        token=confirmation_token("withdrawal.approve", w.id, w.amount),
        facts=[(_("Purpose"), w.purpose.shown), (_("Details"), w.details or "—"),
               (_("Requested"), _("%(day)s by %(person)s", day=current_app.jinja_env.filters["day"](w.requested_at), person=w.requested_by.label)),
               (_("Balance now"), money_text(balance, w.currency)),
               (_("Balance after"), money_text(balance - w.amount, w.currency)),
               *rates.exchange_facts(w)],
        notes=[_("The payout is posted to the ledger at once, and cannot be undone but by a "
                 "correction; pay the school or supplier the same amount.")] if w.rate is None
        else [rates.exchange_note(w)],
    )  # fmt: skip


@staff.post("/withdrawals/<int:withdrawal_id>/<any(approve, reject):decision>")
def decide_withdrawal(withdrawal_id: int, decision: str):
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(decision_refused(form), "error")
        return redirect(url_for("staff.withdrawals"))
    try:
        if decision == "approve":
            confirmed = use_confirmation("withdrawal.approve", withdrawal_id)
            done = services.approve_withdrawal(withdrawal_id, current_user)
            if done.amount != confirmed.amount:  # never pays what was not shown
                raise services.TrainingError(
                    _("The withdrawal changed after the confirmation page.")
                )
            message = _("Withdrawal approved: the payout is posted to the ledger.")
        else:
            done = services.reject_withdrawal(withdrawal_id, current_user, form.note.data or "")
            message = _("Withdrawal rejected.")
        trainee_id = done.trainee_id
        record(f"withdrawal.{decision}", "withdrawal", done.id, summary=done.purpose.label,
               before={"status": "requested"}, after={"status": done.status.value, "amount": done.amount})  # fmt: skip
    except ConfirmationRefused as exc:
        return confirm_refused(exc, url_for("staff.withdrawals"))
    except services.TrainingError as exc:
        abandon()
        flash(str(exc), "error")
        return redirect(url_for("staff.withdrawals"))
    flash(message, "success")
    if request.form.get("back") == "trainee":
        return redirect(url_for("staff.trainee", trainee_id=trainee_id))
    return redirect(url_for("staff.withdrawals"))


@staff.post("/trainees/<int:trainee_id>/goals")
def add_goal(trainee_id: int):
    found = _trainee_or_404(trainee_id)
    form = GoalForm()
    if not form.validate_on_submit():
        return _refuse(found, goal_form=form)
    try:
        goal = services.add_goal(
            trainee_id=found.id, title=form.title.data, target_amount=form.target_amount.cents,
            target_date=form.target_date.data, currency=_currency(),
        )  # fmt: skip
    except services.TrainingError as exc:
        return _refuse(found, exc, goal_form=form)
    record("goal.create", "trainee", found.id, summary=goal.title,
           after={"target_amount": goal.target_amount})  # fmt: skip
    flash(_("Goal added to the development plan."), "success")
    return redirect(url_for("staff.trainee", trainee_id=trainee_id))


@staff.post("/goals/<int:goal_id>/status")
def goal_status(goal_id: int):
    form = GoalStatusForm()
    goal = db.session.get(DevelopmentGoal, goal_id) or abort(404)
    trainee_id = goal.trainee_id
    if not form.validate_on_submit():
        flash(_("Choose a status."), "error")
    else:
        before = goal.status.value
        services.set_goal_status(goal_id, GoalStatus(form.status.data))
        record("goal.status", "trainee", trainee_id, summary=goal.title,
               before={"status": before}, after={"status": form.status.data})  # fmt: skip
        flash(_("Goal updated."), "success")
    return redirect(url_for("staff.trainee", trainee_id=trainee_id))


@staff.get("/audit")
def audit():
    return audit_page(STAFF_AREA)


@staff.get("/reconciliation")
def reconciliation():
    return render_template("staff/reconciliation.html", report=reports.reconciliation())


# --- CSV -----------------------------------------------------------------------------


@staff.get("/balances.csv")
def balances_csv():
    rows = reports.all_balances(
        int_arg("workshop"),
        request.args.get("cohort") or None,
        search=ListArgs(request.args).search(),
    )
    return csv_response(
        "training-balances.csv",
        [
            pgettext("CSV column", "trainee_code"),
            pgettext("CSV column", "legal_name"),
            pgettext("CSV column", "workshop"),
            pgettext("CSV column", "cohort"),
            pgettext("CSV column", "active"),
            pgettext("CSV column", "balance"),
            pgettext("CSV column", "earned"),
            pgettext("CSV column", "last_credit"),
            pgettext("CSV column", "currency"),
        ],
        (
            [
                r.code,
                r.legal_name,
                r.workshop,
                r.cohort,
                "yes" if r.active else "no",
                major(r.balance),
                major(r.earned),
                r.last_credit_at.date().isoformat() if r.last_credit_at else "",
                _currency(),
            ]
            for r in rows
        ),
    )


@staff.get("/trainees/<int:trainee_id>/statement.csv")
def statement_csv(trainee_id: int):
    found = _trainee_or_404(trainee_id)
    account = services.trainee_account(found.id)
    lines, _count = reports.statement(account.id)
    return csv_response(
        f"statement-{found.code}.csv",
        [
            pgettext("CSV column", "date"),
            pgettext("CSV column", "kind"),
            pgettext("CSV column", "memo"),
            pgettext("CSV column", "amount"),
            pgettext("CSV column", "balance"),
            pgettext("CSV column", "currency"),
            *rates.csv_columns(),
        ],
        (
            [
                line.at.date().isoformat(),
                line.kind.label,
                line.memo_shown,
                major(line.amount),
                major(line.running_balance),
                account.currency,
                *rates.csv_cells(line.exchange),
            ]
            for line in reversed(lines)
        ),
    )
