"""The stored objects of product images: which keys rows still reference, and deleting
the others, never from a request.

An image's objects (its original and every copy, shop/catalog/images.py) are public to
anyone with the address. So a change that stops referencing keys (removing an image,
moving one to its content hash, the demo redrawing a lost picture) enqueues a
`media.delete` job in its own transaction: the worker deletes them, retried with backoff
while the store is down, and dead on /admin/jobs when it never comes back.

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
from dataclasses import dataclass

from sqlalchemy import select, text

from shop import jobs
from shop.catalog.models import ProductImage
from shop.extensions import db
from shop.media import CONTENT_KEY, CONTENT_TYPES, media_storage

log = logging.getLogger(__name__)

DELETE_OBJECTS = "media.delete"
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
