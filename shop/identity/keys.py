"""The store's Ed25519 signing keys.

The private key that signs comes from SIGNING_KEY_FILE (a PEM file; several machines
mount the same secret) or else from `instance/signing-keys/current.pem` (one machine).
That file is written once, never at start-up: by `flask --app app keys rotate`, or on
first need by `seed-demo` (`ensure_key`). It is created with mode 0600 and made visible
at once with a hard link (which fails if the name exists), so two processes creating the
first key at the same moment end up with one key, never a half-written file.

Every key's public half is kept in `signing_keys`, written in the same transaction as
the first credential it signs (`publish`), so every machine lists every key, old ones
included, in the DID document, and a credential stays verifiable after a rotation.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from shop.extensions import db
from shop.identity.models import SigningKey
from shop.timeutil import utcnow

CURRENT = "current.pem"
RETIRED_PREFIX = "retired-"
NO_KEY = "no signing key: run flask --app app keys rotate, or set SIGNING_KEY_FILE"
PUBLISHED_KEY = "shop_published_kids"  # session.info: kids known published in this transaction


class NoSigningKey(RuntimeError):
    """The store has to sign and holds no private key; the message says what to do."""


@dataclass(frozen=True)
class PrivateKey:
    kid: str  # RFC 7638 thumbprint, base64url
    key: OKPKey
    public_jwk: dict


def new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_key_file(path: Path, pem: bytes, *, replace: bool = False) -> bool:
    """Write `pem` to `path` with mode 0600, whole or not at all. Without `replace`, a
    file already there wins (False is returned and it is left alone)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(draft, path)
            return True
        try:
            os.link(draft, path)  # atomic, and refuses a name that exists
        except FileExistsError:
            return False
        return True
    finally:
        draft.unlink(missing_ok=True)


_loaded: dict[tuple, PrivateKey] = {}


def load_key(path: Path) -> PrivateKey:
    """The key in the PEM file `path` (kept in memory until the file changes)."""
    stat = path.stat()
    cache_key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    found = _loaded.get(cache_key)
    if found is None:
        try:
            key = OKPKey.import_key(path.read_bytes())
        except (ValueError, TypeError, JoseError) as exc:  # not PEM, or a key of another kind
            raise NoSigningKey(
                f"{path} does not hold an Ed25519 private key in PEM ({type(exc).__name__}); "
                "make one with flask --app app keys rotate"
            ) from None
        if key.as_dict(private=False).get("crv") != "Ed25519":
            raise NoSigningKey(f"{path} is not an Ed25519 key")
        found = PrivateKey(key.thumbprint(), key, public_part(key))
        _loaded[cache_key] = found
    return found


def public_part(key: OKPKey) -> dict:
    jwk = key.as_dict(private=False)
    return {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"]}


def key_folder() -> Path:
    return Path(current_app.config["SIGNING_KEY_DIR"])


def key_file() -> Path:
    """Where this machine's current private key is."""
    configured = current_app.config.get("SIGNING_KEY_FILE")
    return Path(configured) if configured else key_folder() / CURRENT


def current_key() -> PrivateKey:
    """The key that signs now; NoSigningKey when this machine has none."""
    path = key_file()
    if not path.is_file():
        where = f" ({path} does not exist)" if current_app.config.get("SIGNING_KEY_FILE") else ""
        raise NoSigningKey(f"{NO_KEY}{where}")
    return load_key(path)


def ensure_key() -> PrivateKey:
    """The current key, made now if this machine has none and keeps its keys in the
    instance folder (a key from SIGNING_KEY_FILE is the operator's to provide)."""
    if not current_app.config.get("SIGNING_KEY_FILE"):
        write_key_file(key_file(), new_private_pem())  # a key already there is kept
    return current_key()


def publish(key: PrivateKey) -> None:
    """Record the key's public half (once; two machines at once are fine)."""
    known = db.session.info.setdefault(PUBLISHED_KEY, set())
    if key.kid in known:
        return
    values = {"kid": key.kid, "public_jwk": key.public_jwk, "created_at": utcnow()}
    dialect = db.session.connection().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is not None:
        db.session.execute(insert(SigningKey).values(**values).on_conflict_do_nothing())
    elif db.session.scalar(select(SigningKey.id).where(SigningKey.kid == key.kid)) is None:
        db.session.add(SigningKey(**values))
        db.session.flush()
    known.add(key.kid)


def _forget_published(session, *_args) -> None:
    # A rollback may have taken the row back; a new transaction checks again.
    session.info.pop(PUBLISHED_KEY, None)


def track_published(session_class) -> None:
    """Forget which keys were published whenever a transaction ends or rolls back."""
    from sqlalchemy import event

    for name in ("after_soft_rollback", "after_commit"):
        if not event.contains(session_class, name, _forget_published):
            event.listen(session_class, name, _forget_published)


def public_keys() -> list[SigningKey]:
    """Every key ever published, oldest first."""
    return list(
        db.session.scalars(select(SigningKey).order_by(SigningKey.created_at, SigningKey.id))
    )


def retired_files() -> dict[str, Path]:
    """Private keys this machine kept after rotating (kid: file)."""
    folder = key_folder()
    if not folder.is_dir():
        return {}
    return {
        p.name[len(RETIRED_PREFIX) : -len(".pem")]: p for p in folder.glob(f"{RETIRED_PREFIX}*.pem")
    }


def rotate(new_key_file: Path | None = None) -> PrivateKey:
    """Make a new key current and retire the others (they keep verifying). With
    SIGNING_KEY_FILE the new key is written to `new_key_file` for the operator to
    install on every machine; otherwise it replaces instance/signing-keys/current.pem
    (the old one is kept beside it as retired-<kid>.pem). Flushes, never commits."""
    from_setting = bool(current_app.config.get("SIGNING_KEY_FILE"))
    if from_setting and new_key_file is None:
        raise NoSigningKey(
            "the signing key comes from SIGNING_KEY_FILE: give --new-key-file PATH, then "
            "point SIGNING_KEY_FILE at PATH on every machine"
        )
    pem = new_private_pem()
    new = load_key_bytes(pem)
    db.session.execute(
        update(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.kid != new.kid)
        .values(retired_at=utcnow())
    )
    publish(new)
    if new_key_file is not None:
        if not write_key_file(new_key_file, pem):
            raise NoSigningKey(f"{new_key_file} exists: choose a new file for the new key")
        return new
    current = key_file()
    if current.is_file():
        old = load_key(current)
        retired = key_folder() / f"{RETIRED_PREFIX}{old.kid}.pem"
        if not retired.exists():
            os.link(current, retired)
    write_key_file(current, pem, replace=True)
    return new


def load_key_bytes(pem: bytes) -> PrivateKey:
    key = OKPKey.import_key(pem)
    return PrivateKey(key.thumbprint(), key, public_part(key))
