"""The stored objects of product images: which keys rows still reference, and deleting
the others, never from a request.

An image's objects (its original and every copy, shop/catalog/images.py) are public to
anyone with the address. So a change that stops referencing keys (removing an image,
moving one to its content hash, the demo redrawing a lost picture) enqueues a
`media.delete` job in its own transaction: the worker deletes them, retried with backoff
while the store is down, and dead on /admin/jobs when it never comes back. What a failed
commit or a lost job leaves behind is found by the sweep (`flask --app app media sweep`,
and the `media.sweep` job the worker enqueues every MEDIA_SWEEP_EVERY_HOURS).

A key is deleted only if no row references it when the deletion runs: keys are content
hashes, so a picture removed from one product and uploaded again (to it or another) is
the same objects. Uploading a picture, making its copies and deleting its objects each
hold the picture's lock (`lock_pictures`) from before they touch the store until their
commit, so a deletion never removes what an upload is about to commit a row for.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, text

from shop import jobs
from shop.catalog.models import ProductImage
from shop.extensions import db
from shop.jobs.models import Job
from shop.media import CONTENT_KEY, CONTENT_TYPES, media_storage
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

DELETE_OBJECTS = "media.delete"
SWEEP = "media.sweep"
PREFIX = "products/"  # where the store keeps images; a shared bucket's other keys are not ours
CHUNK = 500  # keys per IN (…) query


# --- Which keys are in use -------------------------------------------------------------


def picture_of(key: str) -> str:
    """What a content-hashed original and its copies share (`products/<hash>`); any other
    key (an image kept before keys were hashes) stands alone."""
    match = CONTENT_KEY.fullmatch(key)
    return match.group("picture") if match else key


@dataclass(frozen=True)
class KeysInUse:
    """The keys some rows reference: each row's original and, for a content-hashed one,
    every key of its picture (its copies, made or still to be made)."""

    originals: frozenset[str]
    pictures: frozenset[str]

    @classmethod
    def of(cls, filenames: Iterable[str]) -> KeysInUse:
        names = frozenset(filenames)
        return cls(names, frozenset(picture_of(n) for n in names if CONTENT_KEY.fullmatch(n)))

    def __contains__(self, key: str) -> bool:
        if key in self.originals:
            return True
        return CONTENT_KEY.fullmatch(key) is not None and picture_of(key) in self.pictures


def keys_in_use(keys: Iterable[str]) -> KeysInUse:
    """Which of `keys` rows reference now."""
    owners: set[str] = set()
    for key in keys:
        owners.add(key)
        if CONTENT_KEY.fullmatch(key):
            owners.update(f"{picture_of(key)}.{ext}" for ext in CONTENT_TYPES)
    ordered = sorted(owners)
    found: list[str] = []
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        found += db.session.scalars(
            select(ProductImage.filename).where(ProductImage.filename.in_(chunk))
        )
    return KeysInUse.of(found)


def lock_pictures(keys: Iterable[str]) -> None:
    """Hold the pictures `keys` belong to until this transaction ends. On PostgreSQL an
    advisory lock per picture (taken in one order, so two holders never deadlock); on
    SQLite there is nothing more to take: every transaction that writes (POST requests,
    jobs, commands) begins IMMEDIATE and holds the database's one write lock already
    (shop/database.py)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for lock_id in sorted({_lock_id(picture_of(key)) for key in keys}):
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def _lock_id(picture: str) -> int:
    digest = hashlib.sha256(f"madeknown.media:{picture}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# --- Deleting --------------------------------------------------------------------------


def forget_keys(keys: Iterable[str]) -> None:
    """Rows stop referencing `keys` in this transaction: once it commits, the worker
    deletes those no row references by then. The request never calls the store."""
    jobs.enqueue(DELETE_OBJECTS, keys=sorted(set(keys)))


def delete_unreferenced(keys: Iterable[str]) -> list[str]:
    """Delete from the store each of `keys` no row references now; returns them. Safe to
    run again (a key already gone is no error). Raises MediaError when the store does not
    answer, at the first key, so a job is retried without holding the pictures' locks
    for every key's timeout."""
    keys = sorted(set(keys))
    lock_pictures(keys)
    in_use = keys_in_use(keys)
    storage = media_storage()
    deleted = []
    for key in keys:
        if key not in in_use:
            storage.delete(key)
            deleted.append(key)
    return deleted


@jobs.handler(DELETE_OBJECTS)
def _delete_objects_job(job) -> None:
    deleted = delete_unreferenced(job.payload["keys"])
    log.info("media: %s object(s) deleted, %s still in use", len(deleted),
             len(job.payload["keys"]) - len(deleted))  # fmt: skip


# --- Sweeping --------------------------------------------------------------------------


@dataclass
class Sweep:
    """What a sweep found under PREFIX: keys in use, unused ones younger than the grace
    period (an upload's row may not be committed yet), and orphans older than it."""

    grace: timedelta
    listed: int = 0
    in_use: int = 0
    too_recent: int = 0
    orphans: list[str] = field(default_factory=list)

    def summary(self) -> str:
        hours = self.grace.total_seconds() / 3600
        return (
            f"{self.listed} object(s) under {PREFIX}: {self.in_use} in use, "
            f"{self.too_recent} unused but written less than {hours:g} h ago (kept), "
            f"{len(self.orphans)} orphaned"
        )


def sweep_grace() -> timedelta:
    return timedelta(hours=float(current_app.config["MEDIA_SWEEP_GRACE_HOURS"]))


def find_orphans(grace: timedelta, now: datetime | None = None) -> Sweep:
    """List the store's keys under PREFIX and sort them out; deletes nothing. Raises
    MediaError when the store does not answer."""
    cutoff = (now or utcnow()) - grace
    listed = list(media_storage().list_keys(PREFIX))
    in_use = KeysInUse.of(db.session.scalars(select(ProductImage.filename)))
    found = Sweep(grace, listed=len(listed))
    for stored in listed:
        if stored.key in in_use:
            found.in_use += 1
        elif stored.modified > cutoff:
            found.too_recent += 1
        else:
            found.orphans.append(stored.key)
    return found


def sweep(grace: timedelta, now: datetime | None = None) -> tuple[Sweep, list[str]]:
    """Delete the orphans older than `grace` (each checked again under its picture's
    lock: a row committed since the listing keeps its key)."""
    found = find_orphans(grace, now)
    return found, delete_unreferenced(found.orphans)


@jobs.handler(SWEEP)
def _sweep_job(job) -> None:
    found, deleted = sweep(sweep_grace())
    log.info("media sweep: %s; %s deleted", found.summary(), len(deleted))


def enqueue_sweep_when_due() -> None:
    """The worker's periodic tick: a sweep job, unless one was made in the last
    MEDIA_SWEEP_EVERY_HOURS (0: never). A job, not the sweep itself, so a store that is
    down is retried and, failing for good, shown on /admin/jobs."""
    hours = float(current_app.config["MEDIA_SWEEP_EVERY_HOURS"])
    if hours <= 0:
        return
    since = utcnow() - timedelta(hours=hours)
    recent = select(Job.id).where(Job.kind == SWEEP, Job.created_at > since).limit(1)
    if db.session.scalar(recent) is None:
        jobs.enqueue(SWEEP)


jobs.periodic("enqueue_media_sweep", enqueue_sweep_when_due)
