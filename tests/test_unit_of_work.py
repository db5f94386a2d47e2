"""One unit of work per request and per command: what a request did is committed at its
end, in one place, or not at all; follow-up actions (emails, jobs) run only after the
commit. Driven through real routes of a store whose commits are real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Blueprint, abort
from sqlalchemy import select

from shop.extensions import db
from shop.provenance.models import Workshop
from shop.unit_of_work import abandon, after_commit, keep_on_refusal, unit_of_work
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


def _workshop_exists(app, slug: str) -> bool:
    with app.app_context():
        return db.session.scalar(select(Workshop.id).where(Workshop.slug == slug)) is not None


@pytest.fixture
def store(committed_app):
    """The store with a few routes that do work the way views do, then answer variously."""
    seen: list[tuple[str, bool]] = []
    probe = Blueprint("uow_probe", __name__)

    def record(slug: str) -> None:
        factories.workshop(slug=slug)
        # The follow-up looks from another session: the work must already be committed.
        after_commit(lambda: seen.append((slug, _workshop_exists(committed_app, slug))))

    @probe.post("/probe/ok/<slug>")
    def ok(slug):
        record(slug)
        return "done"

    @probe.post("/probe/refused/<slug>")
    def refused(slug):
        record(slug)
        return "no", 409

    @probe.post("/probe/missing/<slug>")
    def missing(slug):
        record(slug)
        abort(404)

    @probe.post("/probe/crash/<slug>")
    def crash(slug):
        record(slug)
        raise RuntimeError("a bug after writing")

    @probe.post("/probe/abandoned/<slug>")
    def abandoned(slug):
        record(slug)
        abandon()
        factories.workshop(slug=f"{slug}-after")
        return "gave up", 200

    @probe.post("/probe/declined/<slug>")
    def declined(slug):
        record(slug)
        keep_on_refusal()
        return "card declined", 402

    committed_app.register_blueprint(probe)
    committed_app.config.update(WTF_CSRF_ENABLED=False, PROPAGATE_TEST_ERRORS=False)
    return committed_app, seen


def test_work_is_committed_at_the_end_and_follow_ups_run_after(store):
    app, seen = store
    assert app.test_client().post("/probe/ok/kept").status_code == 200
    assert _workshop_exists(app, "kept")
    assert seen == [("kept", True)]


@pytest.mark.parametrize("route,status", [("refused", 409), ("missing", 404), ("crash", 500)])
def test_an_error_answer_writes_nothing_and_runs_no_follow_up(store, route, status):
    app, seen = store
    assert app.test_client().post(f"/probe/{route}/gone").status_code == status
    assert not _workshop_exists(app, "gone")
    assert seen == []


def test_abandoned_work_stays_undone_even_if_the_view_writes_again(store):
    app, seen = store
    assert app.test_client().post("/probe/abandoned/dropped").status_code == 200
    assert not _workshop_exists(app, "dropped")
    assert not _workshop_exists(app, "dropped-after")
    assert seen == []


def test_a_refusal_that_must_be_recorded_is_committed(store):
    app, seen = store
    assert app.test_client().post("/probe/declined/recorded").status_code == 402
    assert _workshop_exists(app, "recorded")
    assert seen == [("recorded", True)]


def test_a_command_block_commits_or_rolls_back_whole(committed_app):
    ran: list[str] = []
    with committed_app.app_context():
        with unit_of_work():
            factories.workshop(slug="by-command")
            after_commit(lambda: ran.append("kept"))
        with pytest.raises(RuntimeError), unit_of_work():
            factories.workshop(slug="half-done")
            after_commit(lambda: ran.append("never"))
            raise RuntimeError("the command failed part-way")
    assert _workshop_exists(committed_app, "by-command")
    assert not _workshop_exists(committed_app, "half-done")
    assert ran == ["kept"]


COMMIT_CALL = re.compile(r"\bdb\.session\.commit\(\)")


def test_views_and_commands_never_commit_themselves():
    """The one commit lives in shop/unit_of_work.py; a view or command that commits
    on its own would run its follow-ups before (or without) the unit's commit."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "shop").rglob("*.py"))
        if path.name != "unit_of_work.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if COMMIT_CALL.search(line)
    ]
    assert offenders == []
