"""The one set of rules for a trainee's record, used by the staff form and the import.

`trainee_problems` lists what is wrong with some details without touching the
database; `save_trainee` checks those and the database (the code is unique whatever
its case, the workshop exists) and only then writes. It flushes and never commits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop.csv_import import CODE_RE
from shop.extensions import db
from shop.provenance.models import Trainee, Workshop
from shop.provenance.services import ProvenanceError

CODE_MAX, LEGAL_NAME_MAX, ALIAS_MAX, COHORT_MAX = 32, 200, 80, 40


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


class TraineeRefused(ProvenanceError):
    """Details that break a rule, each as (field, message); nothing was changed."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field.replace('_', ' ')} {msg}" for field, msg in problems))


def _words(name: str) -> list[str]:
    """Lower-case words without accents: 'Sreý-Mom' -> ['srey', 'mom']."""
    plain = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return [w for w in re.split(r"[\W_]+", plain) if w]


def alias_gives_away_legal_name(alias: str, legal_name: str) -> bool:
    """Whether the alias names her, even in part, whatever the case, accents, spacing or
    punctuation: any word of the legal name among the alias's words, or any of its
    words of three letters or more within the alias's letters run together ('C h e n
    d a', 'Chen-da'). Refusing a harmless alias now and then is the safe mistake."""
    legal = set(_words(legal_name))
    if set(_words(alias)) & legal:
        return True
    letters = "".join(_words(alias))
    return any(len(word) >= 3 and word in letters for word in legal)


def trainee_problems(details: TraineeDetails) -> list[tuple[str, str]]:
    """What is wrong with `details` on their own (the database is not asked)."""
    d = details.cleaned()
    problems = []
    if not CODE_RE.match(d.code) or len(d.code) > CODE_MAX:
        problems.append(("code", f"'{d.code}' is not a code (letters, digits, '-', '_' or '.', "
                                 f"at most {CODE_MAX} characters)"))  # fmt: skip
    for field, value, longest in (
        ("legal_name", d.legal_name, LEGAL_NAME_MAX),
        ("alias", d.alias, ALIAS_MAX),
        ("cohort", d.cohort, COHORT_MAX),
    ):
        if len(value) > longest:
            problems.append((field, f"is {len(value)} characters long; at most {longest}"))
    for field in ("code", "legal_name", "alias", "cohort"):
        if "\x00" in getattr(d, field):  # PostgreSQL cannot store it; nobody types it
            problems.append((field, "must not contain a NUL character"))
    if not d.legal_name:
        problems.append(("legal_name", "is required"))
    if d.alias_consent and not d.alias:
        problems.append(("alias", "is needed when she consents to an alias being shown"))
    if d.alias and alias_gives_away_legal_name(d.alias, d.legal_name):
        problems.append(("alias", "must not be part of the trainee's legal name"))
    return problems


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
        return f"'{code}' is already used by another trainee"
    return f"'{code}' is already used by another trainee, as '{clash.code}'"


def save_trainee(details: TraineeDetails, trainee: Trainee | None = None) -> Trainee:
    """Create a trainee (`trainee` None) or change one; raise TraineeRefused, changing
    nothing, when any rule is broken."""
    d = details.cleaned()
    problems = trainee_problems(d)
    if not any(field == "code" for field, _ in problems) and (
        taken := _code_taken(d.code, trainee)
    ):
        problems.append(("code", taken))
    if d.workshop_id is None or db.session.get(Workshop, d.workshop_id) is None:
        problems.append(("workshop_id", "must be a workshop we know"))
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
    return trainee
