"""Issuing: every credential brought up to date with what it is about, in the
transaction of the change (shop/passports/tracking.py calls this as it commits; so do
`flask --app app passport issue` and seed-demo, for whatever is missing).

For each subject the content is built afresh (shop/passports/content.py) and hashed;
when the hash differs from its latest version's, or there is none, a new version is
signed and stored. Old versions are never touched. The status list's lock is taken
first, so two transactions issuing for the same subject, or one issuing while another
suspends its workshop, go one after the other and each reads the other's work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import contains_eager, selectinload

from shop.catalog.models import Variant
from shop.extensions import db
from shop.identity import signing
from shop.identity.checking import kid_of
from shop.passports import content, status
from shop.passports.content import month_stamp
from shop.passports.models import Credential, CredentialKind
from shop.provenance.models import (
    Batch,
    VettingEvent,
    VettingOutcome,
    Workshop,
    new_public_id,
)
from shop.provenance.services import VISIT_KINDS, batch_is_public, vetting_summary
from shop.timeutil import today, utcnow
from shop.web import site_url

# A conformity credential names its own URL (its public id) inside; it is hashed with
# this in its place, so an unchanged event keeps its credential.
PLACEHOLDER = "https://credential.invalid/"
KIND_NAMES = {"dpp": "passport(s)", "dfr": "facility record(s)", "dcc": "conformity credential(s)"}  # fmt: skip


@dataclass
class IssueReport:
    issued: Counter = field(default_factory=Counter)  # by kind
    current: Counter = field(default_factory=Counter)  # already up to date, by kind
    revocations_changed: int = 0

    def summary(self) -> str:
        issued = ", ".join(f"{self.issued[k]} {name}" for k, name in KIND_NAMES.items())
        return (
            f"Issued {issued}; {sum(self.current.values())} already current; "
            f"{self.revocations_changed} passport status(es) changed."
        )


@dataclass
class _Latest:
    id: int
    version: int
    content_hash: str
    public_id: str
    jws: str | None = None  # kept for conformity credentials (claims hash them)


def is_public_event(event: VettingEvent) -> bool:
    return event.outcome == VettingOutcome.PASSED and event.kind in content.PUBLIC_EVENT_KINDS


class _Run:
    """One bringing-up-to-date: the subjects' latest credentials, and what it issued."""

    def __init__(self, report: IssueReport):
        self.report = report
        self.latest: dict[tuple[str, int], _Latest] = {}
        self.valid_from = utcnow().replace(microsecond=0)
        self.top_index: int | None = None  # the highest status index issued

    def load_latest(self, batch_ids, workshop_ids, event_ids) -> None:
        for kind, column, ids in (
            (CredentialKind.PASSPORT, Credential.batch_id, batch_ids),
            (CredentialKind.FACILITY, Credential.workshop_id, workshop_ids),
            (CredentialKind.CONFORMITY, Credential.vetting_event_id, event_ids),
        ):
            columns = [Credential.id, column, Credential.version, Credential.content_hash,
                       Credential.public_id]  # fmt: skip
            if kind == CredentialKind.CONFORMITY:
                columns.append(Credential.jws)
            for chunk in status.chunks(ids):
                for row in db.session.execute(select(*columns).where(column.in_(chunk))):
                    key = (kind.value, row[1])
                    found = self.latest.get(key)
                    if found is None or row.version > found.version:
                        jws = row.jws if kind == CredentialKind.CONFORMITY else None
                        self.latest[key] = _Latest(row.id, row.version, row.content_hash,
                                                   row.public_id, jws)  # fmt: skip

    def ensure(
        self, kind: CredentialKind, subject: tuple[str, int], hashed: dict,
        url: Callable[[Credential], str], signed: dict | None = None,
        *, revoked: bool = False, public_id: str | None = None,
    ) -> _Latest:  # fmt: skip
        """The subject's latest credential, a new version signed when the content
        (`hashed`) differs from the latest's. `signed` is what is signed, when it is not
        `hashed` itself (a conformity credential's own URL)."""
        digest = content.content_hash(hashed)
        key = (kind.value, subject[1])
        latest = self.latest.get(key)
        if latest is not None and latest.content_hash == digest:
            self.report.current[kind.value] += 1
            return latest
        row = Credential(kind=kind, version=latest.version + 1 if latest else 1,
                         content_hash=digest, issued_at=self.valid_from, revoked=revoked,
                         public_id=public_id or new_public_id(), **{subject[0]: subject[1]})  # fmt: skip
        db.session.add(row)
        db.session.flush()  # its id is the passport's status index
        entry = status.entry(row.id) if kind in status.WITH_STATUS else None
        valid_from = month_stamp(self.valid_from)
        payload = content.finish(signed or hashed, url(row), valid_from, entry)
        row.jws = signing.sign_jws(payload, "vc+jwt")
        row.kid = kid_of(row.jws)
        self.latest[key] = _Latest(row.id, row.version, digest, row.public_id, row.jws)
        self.report.issued[kind.value] += 1
        if entry is not None:
            self.top_index = max(self.top_index or 0, row.id)
        return self.latest[key]


def _load(workshop_ids: set[int], batch_ids: set[int]) -> tuple[dict[int, Workshop], list[Batch]]:
    """The subjects, read afresh (the status list's lock is held: what another
    transaction committed meanwhile is seen), with all the builders read. A batch of a
    draft product is left out: it has no public record, so it gets no passport (nor a
    status bit, whose flipping would tell that it exists) until its product is shown."""
    fresh = {"populate_existing": True}
    batches: dict[int, Batch] = {}
    for chunk in status.chunks(batch_ids | workshop_ids):
        ids = set(chunk)
        query = (
            select(Batch)
            .join(Batch.variant)
            .join(Variant.product)
            .where(or_(Batch.id.in_(ids & batch_ids), Batch.workshop_id.in_(ids & workshop_ids)))
            .where(batch_is_public())
            .options(contains_eager(Batch.variant).contains_eager(Variant.product))
            .execution_options(**fresh)
        )
        batches.update((b.id, b) for b in db.session.scalars(query).unique())
    workshops: dict[int, Workshop] = {}
    for chunk in status.chunks(workshop_ids | {b.workshop_id for b in batches.values()}):
        query = (
            select(Workshop)
            .where(Workshop.id.in_(chunk))
            .options(selectinload(Workshop.vetting_events))
            .execution_options(**fresh)
        )
        workshops.update((w.id, w) for w in db.session.scalars(query))
    return workshops, sorted(batches.values(), key=lambda b: b.id)


def _batches_of(workshop_ids: set[int]) -> set[int]:
    found: set[int] = set()
    for chunk in status.chunks(workshop_ids):
        found.update(db.session.scalars(select(Batch.id).where(Batch.workshop_id.in_(chunk))))
    return found


def bring_up_to_date(
    workshop_ids: Iterable[int] = (),
    batch_ids: Iterable[int] = (),
    progress: Callable[[int], None] | None = None,
) -> IssueReport:
    """Issue what is missing or out of date for these workshops (their facility record,
    conformity credentials and every batch's passport) and these batches, and set their
    passports' revocation as batches and workshops now say. Flushes, never commits."""
    report = IssueReport()
    workshop_ids, batch_ids = set(workshop_ids), set(batch_ids)
    if not workshop_ids and not batch_ids:
        return report
    status_list = status.lock()
    workshops, batches = _load(workshop_ids, batch_ids)
    run = _Run(report)
    events = [e.id for w in workshops.values() for e in w.vetting_events if is_public_event(e)]
    run.load_latest([b.id for b in batches], list(workshops), events)
    interval = current_app.config["VETTING_VISIT_INTERVAL_DAYS"]
    summaries, evidence = {}, {}
    for w in sorted(workshops.values(), key=lambda w: w.id):
        summaries[w.id] = vetting_summary(w.vetting_events, w.status, interval, today())
        evidence[w.id] = _conformity(run, w)
        built = content.facility_content(w, summaries[w.id], evidence[w.id])
        run.ensure(CredentialKind.FACILITY, ("workshop_id", w.id), built,
                   lambda row, w=w: site_url("passports.facility_record_version", slug=w.slug,
                                             version=row.version))  # fmt: skip
        if progress:
            progress(1)
    born_revoked = False
    for b in batches:
        w = workshops[b.workshop_id]
        built = content.passport_content(b, b.variant, b.variant.product, w, summaries[w.id],
                                         evidence[w.id])  # fmt: skip
        revoked = status.should_be_revoked(b.recalled_at, w.status)
        issued_before = report.issued["dpp"]
        run.ensure(CredentialKind.PASSPORT, ("batch_id", b.id), built,
                   lambda row, b=b: site_url("passports.passport_version", code=b.code,
                                             version=row.version),
                   revoked=revoked)  # fmt: skip
        born_revoked |= revoked and report.issued["dpp"] > issued_before
        if progress:
            progress(1)
    # Every batch in scope, a draft's too: its passports, issued while it was shown, are
    # known outside, and must follow a recall, a suspension or a withheld country.
    in_scope = batch_ids | _batches_of(workshop_ids)
    report.revocations_changed = status.apply_revocations(in_scope, workshops)
    if (
        report.revocations_changed
        or born_revoked
        or status.needs_resign(status_list, run.top_index)
    ):
        status.resign(status_list)
    return report


def _conformity(run: _Run, workshop: Workshop) -> content.Evidence | None:
    """Each public vetting event's conformity credential, up to date; returns what the
    claims link to as evidence: the credential of the workshop's last passed visit."""
    last = None
    for event in sorted(workshop.vetting_events, key=lambda e: (e.occurred_on, e.id)):
        if not is_public_event(event):
            continue
        hashed = content.conformity_content(event, workshop, PLACEHOLDER)
        latest = run.latest.get((CredentialKind.CONFORMITY.value, event.id))
        unchanged = latest is not None and latest.content_hash == content.content_hash(hashed)
        public_id = latest.public_id if unchanged else new_public_id()
        url = site_url("passports.conformity", public_id=public_id)
        issued = run.ensure(
            CredentialKind.CONFORMITY, ("vetting_event_id", event.id), hashed,
            lambda _row, url=url: url, content.conformity_content(event, workshop, url),
            public_id=public_id,
        )  # fmt: skip
        if event.kind in VISIT_KINDS:
            last = (event, issued, url)
    if last is None:
        return None
    event, issued, url = last
    return content.Evidence(url=url, jws=issued.jws, kind=event.kind, month=event.occurred_on)


def issue_everything(progress: Callable[[int], None] | None = None) -> IssueReport:
    """Whatever is missing or out of date, for every workshop and batch."""
    return bring_up_to_date(db.session.scalars(select(Workshop.id)).all(), (), progress)


def subject_count() -> int:
    """How many workshops and batches `issue_everything` goes through (for progress)."""
    workshops = db.session.scalar(select(db.func.count(Workshop.id))) or 0
    batches = db.session.scalar(
        select(db.func.count(Batch.id))
        .join(Batch.variant)
        .join(Variant.product)
        .where(batch_is_public())
    )
    return workshops + (batches or 0)
