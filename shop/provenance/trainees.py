"""The one set of rules for a trainee's record, used by the staff form and the import.

`trainee_problems` lists what is wrong with some details without touching the
database; `save_trainee` checks those and the database (the code is unique whatever
its case, the workshop exists) and only then writes. It flushes and never commits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import groupby

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop.audit.services import record, snapshot
from shop.csv_import import CODE_RE
from shop.extensions import db
from shop.look_alikes import as_read
from shop.provenance.models import Trainee, Workshop
from shop.provenance.services import ProvenanceError

CODE_MAX, LEGAL_NAME_MAX, ALIAS_MAX, COHORT_MAX = 32, 200, 80, 40
# What the audit log keeps of a change (private ones only as having changed).
TRAINEE_FIELDS = ["code", "legal_name", "alias", "alias_consent", "workshop_id", "cohort", "active"]


@dataclass(frozen=True)
class TraineeDetails:
    code: str
    legal_name: str
    alias: str = ""
    alias_consent: bool = False
    workshop_id: int | None = None
    cohort: str = ""
    active: bool | None = None  # None: as it was (a new trainee is active)

    def cleaned(self) -> TraineeDetails:
        return TraineeDetails(
            code=self.code.strip(), legal_name=self.legal_name.strip(), alias=self.alias.strip(),
            alias_consent=self.alias_consent, workshop_id=self.workshop_id,
            cohort=self.cohort.strip(), active=self.active,
        )  # fmt: skip


class Problem(str):
    """A rule's message as the import says it after a column's name ('is required'), that
    also knows the whole sentence the staff form says (`said()`; None for 'is required',
    which the form words per field): a sentence is never glued from a field's name and
    this fragment. Both are in the reader's language."""

    said: Callable[[], str] | None

    def __new__(cls, fragment: str, said: Callable[[], str] | None) -> Problem:
        problem = super().__new__(cls, fragment)
        problem.said = said
        return problem


def _required() -> Problem:
    return Problem(_("is required"), None)


class TraineeRefused(ProvenanceError):
    """Details that break a rule, each as (field, message); nothing was changed."""

    def __init__(self, problems: list[tuple[str, str]]):
        message = "; ".join(f"{field.replace('_', ' ')} {msg}" for field, msg in problems)
        super().__init__(message, problems)  # ProvenanceError keeps them, field by field


# Digits that commonly stand for letters ('Ch4nda'), and the letters that look alike
# after casefolding: 'l', '1' and 'I' all become 'i', so either side may use any of them.
_DIGITS_AS_LETTERS = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})
_I_LIKE = str.maketrans({"l": "i", "|": "i"})


def _is_letter(char: str) -> bool:
    # Letters of every script, and the marks that belong to them (Khmer and Devanagari
    # vowel signs, viramas): a Khmer or Bengali name is the store's main case.
    return unicodedata.category(char)[0] in "LM"


def fold_for_names(text: str) -> str:
    """What a reader sees in `text`, reduced to lower-case letters of any script: width and
    compatibility forms (NFKC), case, Cyrillic or Greek look-alikes of Latin letters,
    accents on Latin letters, and digits standing for letters all folded away; the
    letters of other scripts (Khmer, Devanagari, Bengali...) are kept, signs and all.
    Anything that is not a letter becomes a space."""
    text = unicodedata.normalize("NFKD", as_read(text))
    # Accents come off Latin letters only: on another script a mark is part of the letter.
    kept, base = [], ""
    for c in text:
        if unicodedata.combining(c) and base.isascii():
            continue
        kept.append(c)
        if not unicodedata.combining(c):
            base = c
    text = unicodedata.normalize("NFC", "".join(kept))
    text = text.translate(_DIGITS_AS_LETTERS).translate(_I_LIKE)
    return " ".join("".join(c if _is_letter(c) else " " for c in text).split())


def _words(name: str) -> list[str]:
    """Folded words: 'Sreý-M0m' -> ['srey', 'mom']."""
    return fold_for_names(name).split()


def _short_word_runs(words: list[str]) -> list[str]:
    """Runs of one- and two-letter words joined: 'S R E Y Mom' -> ['srey']. Spacing a
    name out letter by letter does not hide it."""
    return ["".join(run) for short, run in groupby(words, lambda w: len(w) <= 2) if short]


def alias_gives_away_legal_name(alias: str, legal_name: str) -> bool:
    """Whether the alias names her, even in part, however disguised (case, accents,
    spacing, punctuation, look-alike letters of another script, digits for letters), in
    any script: a word of the legal name among the alias's words; the alias's letters run
    together (two or more), an alias word of three letters or more, or a run of short
    alias words joined ('S R E Y'), inside the legal name's letters run together ('Srey'
    of 'Sreymom Chea'); or a legal-name word of two letters or more inside the alias's
    letters run together ('C h e n d a'). Refusing a harmless alias now and then is the
    safe mistake."""
    legal, alias_words = _words(legal_name), _words(alias)
    if set(alias_words) & set(legal):
        return True
    legal_letters, alias_letters = "".join(legal), "".join(alias_words)
    pieces = [w for w in alias_words if len(w) >= 3] + _short_word_runs(alias_words)
    pieces += [alias_letters]
    if any(len(piece) >= 2 and piece in legal_letters for piece in pieces):
        return True
    return any(len(word) >= 2 and word in alias_letters for word in legal)


def trainee_problems(details: TraineeDetails) -> list[tuple[str, str]]:
    """What is wrong with `details` on their own (the database is not asked)."""
    d = details.cleaned()
    problems = []
    if not d.code:
        problems.append(("code", _required()))
    elif not CODE_RE.match(d.code) or len(d.code) > CODE_MAX:
        problems.append(("code", Problem(
            _("'%(code)s' is not a code (letters, digits, '-', '_' or '.', at most %(most)s "
              "characters)", code=d.code, most=CODE_MAX),
            lambda code=d.code: _("The code '%(code)s' is not a code (letters, digits, '-', '_' "
                                  "or '.', at most %(most)s characters).", code=code, most=CODE_MAX),
        )))  # fmt: skip
    for field, value, longest in (
        ("legal_name", d.legal_name, LEGAL_NAME_MAX),
        ("alias", d.alias, ALIAS_MAX),
        ("cohort", d.cohort, COHORT_MAX),
    ):
        if len(value) > longest:
            problems.append((field, Problem(
                _("is %(length)s characters long; at most %(most)s", length=len(value), most=longest),
                partial(_too_long, field, len(value), longest),
            )))  # fmt: skip
    for field in ("code", "legal_name", "alias", "cohort"):
        if "\x00" in getattr(d, field):  # PostgreSQL cannot store it; nobody types it
            problems.append((field, Problem(
                _("must not contain a NUL character"), partial(_has_nul, field)
            )))  # fmt: skip
    if not d.legal_name:
        problems.append(("legal_name", _required()))
    if d.alias_consent and not d.alias:
        problems.append(("alias", Problem(
            _("is needed when she consents to an alias being shown"),
            lambda: _("The public alias is needed when she consents to an alias being shown."),
        )))  # fmt: skip
    if d.alias and alias_gives_away_legal_name(d.alias, d.legal_name):
        problems.append(("alias", Problem(
            _("must not be part of the trainee's legal name"),
            lambda: _("The public alias must not be part of the trainee's legal name."),
        )))  # fmt: skip
    return problems


def _too_long(field: str, length: int, most: int) -> str:
    if field == "legal_name":
        return _("The legal name is %(length)s characters long; at most %(most)s.",
                 length=length, most=most)  # fmt: skip
    if field == "alias":
        return _("The public alias is %(length)s characters long; at most %(most)s.",
                 length=length, most=most)  # fmt: skip
    return _("The cohort is %(length)s characters long; at most %(most)s.",
             length=length, most=most)  # fmt: skip


def _has_nul(field: str) -> str:
    return {
        "code": lambda: _("The code must not contain a NUL character."),
        "legal_name": lambda: _("The legal name must not contain a NUL character."),
        "alias": lambda: _("The public alias must not contain a NUL character."),
        "cohort": lambda: _("The cohort must not contain a NUL character."),
    }[field]()


def codes_taken(codes: set[str]) -> dict[str, str]:
    """Which of `codes` a trainee already holds, whatever the case: {code.lower(): her code}.
    'AB-1' and 'ab-1' would be two people staff cannot tell apart on a page or a label."""
    wanted = {c.lower() for c in codes if c and "\x00" not in c and len(c) <= CODE_MAX}
    if not wanted:
        return {}
    rows = db.session.scalars(select(Trainee.code).where(func.lower(Trainee.code).in_(wanted)))
    return {code.lower(): code for code in rows}


def _code_taken(code: str, trainee: Trainee | None) -> str | None:
    """The message when another trainee holds `code` in any case; None when it is free."""
    clash = db.session.execute(
        select(Trainee.id, Trainee.code).where(func.lower(Trainee.code) == code.lower())
    ).first()
    if clash is None or (trainee is not None and clash.id == trainee.id):
        return None
    if clash.code == code:
        return Problem(
            _("'%(code)s' is already used by another trainee", code=code),
            lambda: _("The code '%(code)s' is already used by another trainee.", code=code),
        )
    return Problem(
        _("'%(code)s' is already used by another trainee, as '%(held)s'", code=code, held=clash.code),
        lambda held=clash.code: _(
            "The code '%(code)s' is already used by another trainee, as '%(held)s'.",
            code=code, held=held,
        ),
    )  # fmt: skip


def save_trainee(details: TraineeDetails, trainee: Trainee | None = None) -> Trainee:
    """Create a trainee (`trainee` None) or change one, and audit it (whoever saves it, the
    staff form or the import); raise TraineeRefused, changing nothing, when any rule is
    broken."""
    d = details.cleaned()
    before = None if trainee is None else snapshot(trainee, TRAINEE_FIELDS)
    problems = trainee_problems(d)
    if not any(field == "code" for field, _ in problems) and (
        taken := _code_taken(d.code, trainee)
    ):
        problems.append(("code", taken))
    if d.workshop_id is None:
        problems.append(("workshop_id", _required()))
    elif db.session.get(Workshop, d.workshop_id) is None:
        problems.append(("workshop_id", Problem(
            _("must be a workshop we know"), lambda: _("The workshop must be a workshop we know.")
        )))  # fmt: skip
    if problems:
        raise TraineeRefused(problems)
    try:
        # In a savepoint: the same code saved at the same moment by someone else passes the
        # check above and meets the unique index here; that refusal undoes only this.
        with db.session.begin_nested():
            if trainee is None:
                trainee = Trainee(active=True if d.active is None else d.active)
                db.session.add(trainee)
            elif d.active is not None:
                trainee.active = d.active
            trainee.code, trainee.legal_name, trainee.cohort = d.code, d.legal_name, d.cohort
            trainee.alias, trainee.alias_consent = d.alias, d.alias_consent
            # Her training account follows her to the new workshop (shop.training.ledger listens).
            trainee.workshop_id = d.workshop_id
    except IntegrityError:
        taken = _code_taken(d.code, trainee if trainee in db.session else None)
        if taken is None:
            raise
        raise TraineeRefused([("code", taken)]) from None
    after = snapshot(trainee, TRAINEE_FIELDS)
    if before != after:
        record("trainee.create" if before is None else "trainee.update", "trainee", trainee.id,
               summary=trainee.code, before=before, after=after)  # fmt: skip
    return trainee


def makers_to_pick(workshop_id: int) -> list:
    """(id, code, alias) of the workshop's active trainees, by code: the batch form's
    makers to choose from. Never the legal name: admins pick by code and alias."""
    return db.session.execute(
        select(Trainee.id, Trainee.code, Trainee.alias)
        .where(Trainee.workshop_id == workshop_id, Trainee.active.is_(True))
        .order_by(Trainee.code)
    ).all()
