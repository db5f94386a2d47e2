"""/admin/jobs: how the queue is doing, the jobs that failed, and retrying a dead one.

A job's error is its exception's class and a code (outbox.error_text), and its payload
holds ids only; neither is shown beyond the kind, so nothing personal reaches the page.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from shop.admin.blueprint import bp
from shop.admin.order_views import EmptyForm
from shop.audit.services import record
from shop.extensions import db
from shop.jobs import outbox
from shop.jobs.engine import queue_depth
from shop.jobs.models import DEAD, PENDING, RUNNING, Job
from shop.unit_of_work import abandon

SHOWN = 50


@bp.get("/jobs")
def jobs():
    failing = db.session.scalars(
        select(Job)
        .where(Job.last_error != "", Job.status.in_([PENDING, RUNNING, DEAD]))
        .order_by(Job.id.desc())
        .limit(SHOWN)
    ).all()
    return render_template(
        "admin/jobs.html", counts=outbox.counts(), depth=queue_depth(), failing=failing,
        dead=DEAD, button_form=EmptyForm(),
    )  # fmt: skip


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        job = outbox.retry_dead(job_id)
    except outbox.JobError as exc:
        abandon()
        flash(str(exc), "error")
        return redirect(url_for("admin.jobs"))
    record("job.retry", "job", job.id, summary=f"{job.kind} job {job.id} retried")
    flash(_("Job %(id)s will be tried again now.", id=job.id), "success")
    return redirect(url_for("admin.jobs"))
