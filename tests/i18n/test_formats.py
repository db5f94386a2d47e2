"""Money, dates and month names in the reader's language, as Babel writes them for its
locale (Hindi and Bengali as written in India: lakh grouping; Khmer as in Cambodia), on a
staff trainee's page; and the CSV downloads, which machines read, the same in every one."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy import update

from shop.extensions import db
from shop.timeutil import today
from shop.training.corrections import approve_correction, propose_correction
from shop.training.ledger import SYSTEM_KINDS, ensure_accounts
from shop.training.models import LedgerAccount
from shop.training.services import add_goal
from tests import factories as f
from tests.conftest import client_as
from tests.training.conftest import one_maker_sale

LOCALES = {"en": "en_US", "km": "km_KH", "hi": "hi_IN", "bn": "bn_IN"}
ENGLISH_MONTHS = {format_date(date(2026, m, 1), "MMM", locale="en_US") for m in range(1, 13)}


def credit(trainee, amount: int, key: str) -> None:
    """Credit (or take back) `amount` through a correction, proposed and approved."""
    proposer, approver = f.user("staff"), f.user("staff")
    correction, _new = propose_correction(
        trainee_id=trainee.id, amount=amount, reason="Test", proposed_by=proposer, request_key=key
    )
    approve_correction(correction.id, approver)
    db.session.commit()


def page_in(client, path: str, code: str) -> str:
    client.set_cookie("lang", code)
    answer = client.get(path)
    assert answer.status_code == 200 and answer.headers["Content-Language"] == code
    return answer.get_data(as_text=True)


def test_babel_writes_a_lakh_of_rupees_with_indian_grouping():
    assert format_currency(Decimal("100000"), "INR", locale="hi_IN") == "₹1,00,000.00"
    assert format_currency(Decimal("100000"), "INR", locale="bn_IN") == "₹1,00,000.00"
    assert format_currency(Decimal("100000"), "INR", locale="en_US") == "₹100,000.00"


@pytest.fixture
def rupee_store(app, ctx, monkeypatch):
    """The store keeping its books in rupees (STORE_CURRENCY; the system accounts opened in
    it too), until the test's transaction is rolled back."""
    monkeypatch.setitem(app.config, "STORE_CURRENCY", "INR")
    ensure_accounts()
    db.session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.code.in_([kind.value for kind in SYSTEM_KINDS]))
        .values(currency="INR")
    )
    db.session.commit()


@pytest.mark.parametrize("code", ["hi", "bn", "en"])
def test_rupees_on_a_trainee_page_read_as_babel_writes_them(app, rupee_store, code):
    trainee = f.trainee(f.workshop(country_code="IN", region="Bihar"))
    credit(trainee, 100_000_00, "lakh")  # ₹1,00,000.00
    page = page_in(client_as(app, "staff"), f"/staff/trainees/{trainee.id}", code)
    written = format_currency(Decimal("100000"), "INR", locale=LOCALES[code])
    balance = re.search(r'<span class="stat-value">([^<]*)</span>', page).group(1)
    assert balance == written
    if code in ("hi", "bn"):
        assert written == "₹1,00,000.00" and "₹1,00,000.00" in page
        assert "100,000.00" not in page
    else:
        assert "₹100,000.00" in page


@pytest.mark.parametrize("code", ["km", "hi", "bn", "en"])
def test_dates_and_the_charts_months_are_in_the_readers_language(app, ctx, code):
    trainee, _product, _order = one_maker_sale(price=1000)
    add_goal(trainee_id=trainee.id, title="Sewing course", target_amount=500,
             target_date=date(2026, 3, 5), currency="USD")  # fmt: skip
    db.session.commit()
    page = page_in(client_as(app, "staff"), f"/staff/trainees/{trainee.id}", code)
    locale = LOCALES[code]
    assert format_date(date(2026, 3, 5), "d MMM y", locale=locale) in page
    if code == "km":
        assert "5 មីនា 2026" in page
    months = re.findall(r'class="chart-label chart-month"[^>]*>([^<]*)</text>', page)
    narrow = re.findall(r'class="chart-label chart-month-narrow"[^>]*>([^<]*)</text>', page)
    assert months and len(narrow) == len(months)
    this_month = today().replace(day=1)
    assert format_date(this_month, "MMM", locale=locale) in months
    letters = {format_date(date(2026, m, 1), "MMMMM", locale=locale) for m in range(1, 13)}
    if code in ("en", "bn"):  # one letter (or two) a month, told apart
        assert format_date(this_month, "MMMMM", locale=locale) in narrow
    else:  # Khmer's and Hindi's one-letter months repeat (five ម, three अ): numbered
        assert len(letters) < 12
        assert narrow == [str(int(label)) for label in narrow]
        assert str(this_month.month) in narrow
    if code != "en":
        assert not ENGLISH_MONTHS & set(months), months
    assert format_date(this_month, "MMMM y", locale=locale) in page  # the statement's memo


MACHINE_NUMBER = re.compile(r"-?[0-9]+\.[0-9]{2}")


def test_csv_downloads_keep_machine_readable_numbers_in_every_language(app, ctx):
    trainee, _product, _order = one_maker_sale(price=100_000)  # $100.00 shared
    credit(trainee, -1234, "take-back")  # -12.34
    client = client_as(app, "staff")
    downloads = {}
    for code in ("en", "km", "hi", "bn"):
        client.set_cookie("lang", code)
        for path in (f"/staff/trainees/{trainee.id}/statement.csv", "/staff/balances.csv"):
            answer = client.get(path)
            assert answer.status_code == 200 and answer.mimetype == "text/csv"
            downloads[code, path] = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    statement = downloads["en", f"/staff/trainees/{trainee.id}/statement.csv"]
    header = statement[0]
    assert [(r[header.index("amount")], r[header.index("balance")]) for r in statement[1:]] == [
        ("100.00", "100.00"), ("-12.34", "87.66")
    ]  # fmt: skip
    for (code, path), rows in downloads.items():
        english = downloads["en", path]
        columns = english[0]
        # The header row is in the reader's language (a translated word per column, the
        # same number of columns); the cells people compute with are the same everywhere.
        assert len(rows[0]) == len(columns), (code, path)
        if code != "en":
            assert rows[0] != columns, (code, path)
        assert len(rows) == len(english), (code, path)
        for row, english_row in zip(rows[1:], english[1:], strict=True):
            for column in ("amount", "balance", "earned", "date", "last_credit", "currency"):
                if column in columns:
                    at = columns.index(column)
                    assert row[at] == english_row[at], (code, path, column)
            for column in ("amount", "balance", "earned"):
                if column in columns:
                    assert MACHINE_NUMBER.fullmatch(row[columns.index(column)]), (code, path)
            for column in ("date", "last_credit"):
                if column in columns and row[columns.index(column)]:
                    value = row[columns.index(column)]
                    assert re.fullmatch(r"\d{4}-\d\d-\d\d", value)
