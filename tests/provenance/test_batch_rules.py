"""One set of batch rules: the admin form and the CSV import give the same answer
for the same batch, because both call provenance.services.record_batch."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.provenance.models import Batch
from tests import factories as f
from tests.conftest import client_as
from tests.test_imports import BATCHES_HEADER

NEUTRAL = (
    "{} cannot be named as a maker of this workshop's batch: check the code with programme staff"
)

# (the field to change, its value in the form, in the file, what both must say)
CASES = [
    ("code", "B 1", "B 1", "'B 1' is not a batch code"),
    ("code", "B-TAKEN", "B-TAKEN", "batch B-TAKEN was recorded before"),
    ("quantity", "0", "0", "must be at least 1 and at most 100000, got 0"),
    ("quantity", "100001", "100001", "must be at least 1 and at most 100000, got 100001"),
    ("produced_month", "2999-01", "2999-01", "2999-01 is in the future"),
    ("sku", "NOPE", "NOPE", "no variant with SKU 'NOPE'"),
    ("makers", "{elsewhere}:1", "{elsewhere}:1", NEUTRAL.format("{elsewhere}")),
    ("makers", "{maker}:0", "{maker}:0", "the weight of '{maker}' must be between 1"),
    ("makers", "{maker}:1;{maker}:2", "{maker}:1;{maker}:2", "trainee '{maker}' is listed twice"),
    ("makers", "GHOST:1", "GHOST:1", NEUTRAL.format("GHOST")),
    ("makers", "{left}:1", "{left}:1", NEUTRAL.format("{left}")),
]


@pytest.fixture
def setting(ctx):
    w = f.workshop(slug="riverside-rules")
    variant = f.product(w).variants[0]
    maker, elsewhere = f.trainee(w), f.trainee(f.workshop())
    left = f.trainee(w, active=False)
    f.batch(variant, code="B-TAKEN", quantity=1)
    db.session.commit()
    good = {"code": "B_OK.1", "workshop_slug": w.slug, "sku": variant.sku, "quantity": "3",
            "produced_month": "2026-02", "materials": "canvas", "makers": f"{maker.code}:2"}  # fmt: skip
    return w, good, {"maker": maker.code, "elsewhere": elsewhere.code, "left": left.code}


def _import(app, tmp_path, row: dict):
    path = Path(tmp_path) / "batches.csv"
    columns = BATCHES_HEADER.strip().split(",")
    path.write_text(BATCHES_HEADER + ",".join(row[c] for c in columns) + "\n")
    return app.test_cli_runner().invoke(args=["batches", "import", str(path)])


def _form(app, w, row: dict):
    admin = client_as(app, "admin")
    return admin.post("/admin/batches/new", data={**row, "workshop": w.id})


@pytest.mark.parametrize(("field", "in_form", "in_file", "message"), CASES)
def test_the_form_and_the_import_refuse_the_same_batch_with_the_same_words(
    app, setting, tmp_path, field, in_form, in_file, message
):
    w, good, names = setting
    message = message.format(**names)
    form = _form(app, w, {**good, field: in_form.format(**names)})
    assert form.status_code == 400 and message in html.unescape(form.get_data(as_text=True))
    imported = _import(app, tmp_path, {**good, field: in_file.format(**names)})
    assert imported.exit_code == 1 and message in imported.output, imported.output
    assert db.session.scalar(select(func.count(Batch.id))) == 1  # nothing was recorded


def test_the_form_and_the_import_accept_the_same_batch(app, setting, tmp_path):
    w, good, _ = setting
    assert _form(app, w, good).status_code == 302  # a code with '_' and '.' too
    imported = _import(app, tmp_path, {**good, "code": "B_OK.2"})
    assert imported.exit_code == 0, imported.output
    assert db.session.scalar(select(func.count(Batch.id))) == 3
    months = set(db.session.scalars(select(Batch.produced_month).where(Batch.code != "B-TAKEN")))
    assert months == {date(2026, 2, 1)}


@pytest.mark.parametrize(
    ("field", "value"),
    [("code", "B\x00"), ("sku", "S\x00"), ("makers", "T\x00:1"), ("produced_month", "0000-01"),
     ("quantity", str(10**23)), ("makers", f"T001:{10**23}")],
)  # fmt: skip
def test_hostile_values_are_refused_with_a_message_not_an_error(
    app, setting, tmp_path, field, value
):
    w, good, _ = setting
    assert _form(app, w, {**good, field: value}).status_code == 400
    imported = _import(app, tmp_path, {**good, field: value})
    assert imported.exit_code == 1 and "nothing was imported" in imported.output, imported.output
    assert db.session.scalar(select(func.count(Batch.id))) == 1


def test_the_batch_form_tells_an_admin_nothing_about_which_codes_exist_or_where(
    app, setting, tmp_path
):
    """Attack 2, finding 11: an unknown code, a code of another workshop and one who has
    left get the same answer, naming only the code as typed."""
    w, good, names = setting
    answers = []
    for code in (names["elsewhere"], "GHOST-1", names["left"]):
        page = html.unescape(_form(app, w, {**good, "makers": f"{code}:1"}).get_data(as_text=True))
        assert NEUTRAL.format(code) in page
        answers.append(page.replace(code, "<code>"))
        for telling in ("is not at", "no trainee", "no longer active", "another workshop"):
            assert telling not in page
    assert len({a.split("<main", 1)[1].split("</main>", 1)[0] for a in answers}) == 1


def _main(page) -> str:
    """The page's main part, less the list of makers to pick from: that lists the
    workshop's active makers by code and alias (issue 11: admins pick makers from it),
    the same list whatever was typed, so it tells nothing about the codes probed."""
    main = html.unescape(page.get_data(as_text=True)).split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r'<table class="table maker-table">.*?</table>', "", main, flags=re.S)


def test_a_batch_refused_anyway_answers_the_same_whoever_is_named_as_maker(app, setting, tmp_path):
    """Attack 3, finding C: quantity 0 with a maker of this workshop, an unknown code, one
    of another workshop or one who has left gives the same page and the same import
    answer; which makers may be named is told only of a batch otherwise recorded."""
    w, good, names = setting
    probes = [names["maker"], "GHOST-1", names["elsewhere"], names["left"]]
    pages, outputs = set(), set()
    for code in probes:
        bad = {**good, "quantity": "0", "makers": f"{code}:1"}
        page = _form(app, w, bad)
        assert page.status_code == 400
        pages.add(_main(page).replace(code, "<code>"))
        imported = _import(app, tmp_path, bad)
        assert imported.exit_code == 1
        outputs.add(imported.output.replace(code, "<code>"))
    assert len(pages) == 1 and "cannot be named as a maker" not in pages.pop()
    assert len(outputs) == 1 and "cannot be named as a maker" not in outputs.pop()
    assert db.session.scalar(select(func.count(Batch.id))) == 1


def test_an_import_refused_for_another_row_says_nothing_about_makers(app, setting, tmp_path):
    _w, good, names = setting
    path = Path(tmp_path) / "batches.csv"
    columns = BATCHES_HEADER.strip().split(",")
    outputs = set()
    for code in (names["maker"], "GHOST-1", names["elsewhere"]):
        rows = [{**good, "code": "B-BAD", "quantity": "0"}, {**good, "makers": f"{code}:1"}]
        path.write_text(
            BATCHES_HEADER + "".join(",".join(r[c] for c in columns) + "\n" for r in rows)
        )
        imported = app.test_cli_runner().invoke(args=["batches", "import", str(path)])
        assert imported.exit_code == 1
        outputs.add(imported.output.replace(code, "<code>"))
    assert len(outputs) == 1 and "cannot be named as a maker" not in outputs.pop()
