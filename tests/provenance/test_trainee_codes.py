"""A trainee code names one person whatever its case: 'AB-1' and 'ab-1' cannot both exist,
through the staff form, the import, two saves at the same moment, or the database itself."""

from __future__ import annotations

import html
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.provenance.models import Trainee
from shop.provenance.trainees import TraineeDetails, TraineeRefused, save_trainee
from tests import factories as f
from tests.conftest import client_as

HEADER = "code,legal_name,alias,alias_consent,workshop_slug,cohort\n"


def _codes() -> list[str]:
    return sorted(db.session.scalars(select(Trainee.code)))


def _import(app, tmp_path, rows: str):
    path = tmp_path / "trainees.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["trainees", "import", str(path)])


def test_the_form_refuses_a_code_that_differs_only_in_case(app, ctx):
    w = f.workshop()
    f.trainee(w, code="AB-1")
    db.session.commit()
    staff_client = client_as(app, "staff")
    form = {"code": "ab-1", "legal_name": "Dara Legal", "workshop_id": w.id, "active": "y"}
    refused = staff_client.post("/staff/trainees/new", data=form)
    page = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 400
    assert "'ab-1' is already used by another trainee, as 'AB-1'" in page
    assert _codes() == ["AB-1"]


def test_the_import_refuses_it_too_and_two_rows_that_differ_only_in_case(app, ctx, tmp_path):
    w = f.workshop(slug="codes-w")
    f.trainee(w, code="AB-1")
    db.session.commit()
    against_the_store = _import(app, tmp_path, "ab-1,Dara Legal,,no,codes-w,\n")
    assert against_the_store.exit_code == 1
    assert "'ab-1' is already used by another trainee, as 'AB-1'" in against_the_store.output
    within_the_file = _import(app, tmp_path, "CD-2,Dara Legal,,no,codes-w,\ncd-2,Mey Legal,,no,codes-w,\n")  # fmt: skip
    assert within_the_file.exit_code == 1
    assert "row 3, column 'code': trainee code 'cd-2' is already on row 2" in within_the_file.output
    assert _codes() == ["AB-1"]
    # the same code in the same case is still her own row: an update, not a clash
    same = _import(app, tmp_path, "AB-1,New Legal,,no,codes-w,\n")
    assert same.exit_code == 0, same.output


def test_an_edit_may_change_the_case_of_her_own_code(ctx):
    w = f.workshop()
    t = f.trainee(w, code="AB-1")
    save_trainee(TraineeDetails(code="ab-1", legal_name=t.legal_name, workshop_id=w.id), t)
    assert _codes() == ["ab-1"]


def test_the_database_refuses_it_whoever_writes(ctx):
    w = f.workshop()
    f.trainee(w, code="AB-1")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        f.trainee(w, code="ab-1")


def test_two_saves_of_one_code_at_the_same_moment_give_a_message_not_a_crash(committed_app):
    """The first save is flushed but not committed when the second checks the code: the
    second's check finds nothing (PostgreSQL) and meets the unique index, or waits for the
    write lock (SQLite) and finds it; either way it is told, and nothing of it is written."""
    app = committed_app
    with app.app_context():
        workshop_id = f.workshop().id
        db.session.commit()
    first_flushed, outcomes = threading.Event(), {}

    def first():
        with app.app_context():
            save_trainee(
                TraineeDetails(code="AB-1", legal_name="First Legal", workshop_id=workshop_id)
            )
            first_flushed.set()
            threading.Event().wait(0.5)  # the second is now checking, or waiting
            db.session.commit()
            outcomes["first"] = "saved"

    def second():
        with app.app_context():
            first_flushed.wait(10)
            try:
                save_trainee(
                    TraineeDetails(code="ab-1", legal_name="Second Legal", workshop_id=workshop_id)
                )
                db.session.commit()
                outcomes["second"] = "saved"
            except TraineeRefused as refused:
                db.session.rollback()
                outcomes["second"] = f"refused: {refused}"
            except Exception as exc:  # a crash must show in the outcome, not vanish in a thread
                db.session.rollback()
                outcomes["second"] = f"crashed: {exc!r}"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes["first"] == "saved"
    assert (
        outcomes["second"] == "refused: code 'ab-1' is already used by another trainee, as 'AB-1'"
    )
    with app.app_context():
        assert db.session.scalar(select(func.count(Trainee.id))) == 1
