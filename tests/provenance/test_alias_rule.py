"""An alias that is part of the legal name, however disguised, is refused by the one
trainee rule, from the staff form and the import alike (attack 2, finding 2)."""

from __future__ import annotations

import html
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from shop.extensions import db
from shop.provenance.models import Trainee
from shop.provenance.trainees import TraineeDetails, alias_gives_away_legal_name, trainee_problems
from tests import factories as f
from tests.training.conftest import client_as

REFUSED = "must not be part of the trainee's legal name"

# Letters of another script drawn like Latin ones, and digits read as letters.
LOOK_ALIKES = {"a": "аα4", "c": "сϲ", "e": "еε3", "o": "оο0", "p": "рρ", "s": "ѕ5",
               "t": "т7", "i": "іι1", "l": "1ӏ", "h": "һ", "x": "хχ", "y": "у"}  # fmt: skip


@pytest.mark.parametrize(
    "alias,legal_name",
    [
        ("Srey", "Sreymom Chea"),  # the alias inside a legal-name word
        ("Chan", "Chanda Sok"),
        ("Ch4nda", "Chanda Sok"),  # a digit for a letter
        ("\u0421hea V", "Chea Vanna"),  # Cyrillic Es for C
        ("ＣＨＥＡ", "Chea Vanna"),  # fullwidth
        ("Ch\u200dea", "Chea Vanna"),  # a zero-width joiner inside
        ("mchea", "Chea Vanna"),  # a legal-name word inside the alias
        ("Avan", "Chea Vanna"),
        ("aVan", "Chea Vanna"),
        ("Sokch", "Sok Chanda"),  # inside the legal name's letters run together
    ],
)
def test_a_disguised_part_of_the_legal_name_is_refused(alias, legal_name):
    assert alias_gives_away_legal_name(alias, legal_name)


@pytest.mark.parametrize(
    "alias,legal_name",
    [
        ("Dara", "Sokha One"),
        ("Bopha", "Sophea Three"),
        ("Lata", "Anita Twelve"),
        ("Ny", "Sok Vanna"),
    ],
)
def test_an_alias_unlike_the_legal_name_is_kept(alias, legal_name):
    assert not alias_gives_away_legal_name(alias, legal_name)


def _disguise(draw, text: str) -> str:
    out = []
    for ch in text:
        choice = draw(st.sampled_from(["same", "upper", "accent", "look"]))
        if choice == "upper":
            ch = ch.upper()
        elif choice == "accent":
            ch = unicodedata.normalize("NFC", ch + draw(st.sampled_from(["\u0301", "\u0308"])))
        elif choice == "look" and ch in LOOK_ALIKES:
            ch = draw(st.sampled_from(LOOK_ALIKES[ch]))
        out.append(ch)
    return "".join(out)


@st.composite
def name_and_piece(draw):
    words = draw(
        st.lists(st.text("abcdehiklmnoprstuvy", min_size=3, max_size=9), min_size=1, max_size=3)
    )
    word = draw(st.sampled_from(words))
    start = draw(st.integers(0, len(word) - 3))
    end = draw(st.integers(start + 3, len(word)))
    return " ".join(words).title(), _disguise(draw, word[start:end])


@given(name_and_piece())
def test_any_piece_of_three_letters_of_a_legal_name_word_is_refused_however_disguised(case):
    legal_name, alias = case
    assert alias_gives_away_legal_name(alias, legal_name), (alias, legal_name)
    problems = trainee_problems(TraineeDetails(code="T-1", legal_name=legal_name, alias=alias))
    assert ("alias", REFUSED) in problems


def test_the_staff_form_refuses_it_and_nothing_is_saved(app, ctx):
    home = f.workshop()
    db.session.commit()
    staff = client_as(app, "staff")
    form = {"code": "KH-AL-1", "legal_name": "Sreymom Chea", "alias": "Srey",
            "alias_consent": "y", "workshop_id": home.id, "active": "y"}  # fmt: skip
    refused = staff.post("/staff/trainees/new", data=form)
    assert refused.status_code == 400 and REFUSED in html.unescape(refused.get_data(as_text=True))
    assert db.session.scalars(select(Trainee).where(Trainee.code == "KH-AL-1")).first() is None
    public = app.test_client().get(f"/workshops/{home.slug}").get_data(as_text=True)
    assert "Srey" not in public
