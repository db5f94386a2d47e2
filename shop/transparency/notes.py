"""Checkpoints as C2SP signed notes, signed with the store's Ed25519 key (the passports'
key, shop.identity.keys).

    <origin>\\n<tree size>\\n<base64 root hash>\\n\\n— <key name> <base64(key id ‖ signature)>\\n

The origin (and key name) is the log's address without its scheme: PUBLIC_BASE_URL's host
and path, then `/log`. The key id is the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖
public key); the verifier key that /log/key serves is `name+<8 hex>+base64(0x01 ‖ key)`.
"""

from __future__ import annotations

import base64
import contextlib
from urllib.parse import urlsplit

from flask import current_app

from shop.identity import keys
from shop.transparency.verify_log import ED25519, EM_DASH, key_id_for


def origin() -> str:
    """The log's name; NoSigningKey (saying what to set) without PUBLIC_BASE_URL, since a
    checkpoint names it for good."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        raise keys.NoSigningKey(
            "PUBLIC_BASE_URL is not set: set it to the address the store is served at "
            "(make run sets it), since every checkpoint names the log by it"
        )
    parts = urlsplit(base)
    return f"{parts.netloc}{parts.path.rstrip('/')}/log"


def _public_bytes(key: keys.PrivateKey) -> bytes:
    return key.key.public_key.public_bytes_raw()


def verifier_key(key: keys.PrivateKey | None = None) -> str:
    key = key or keys.current_key()
    name, public = origin(), _public_bytes(key)
    encoded = base64.b64encode(bytes([ED25519]) + public).decode("ascii")
    return f"{name}+{key_id_for(name, public).hex()}+{encoded}"


def signed_note(size: int, root: bytes) -> tuple[str, str]:
    """The checkpoint of a tree of `size` with `root`, signed now; and the verifier key
    line of the key that signed it."""
    key = keys.current_key()
    keys.publish(key)  # its public half is kept for good, as for a credential
    name = origin()
    body = f"{name}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"
    signature = key.key.private_key.sign(body.encode("utf-8"))
    stamp = base64.b64encode(key_id_for(name, _public_bytes(key)) + signature).decode("ascii")
    return f"{body}\n{EM_DASH} {name} {stamp}\n", verifier_key(key)


def keys_held() -> set[str]:
    """The verifier keys of the private keys on this machine (current and retired): what
    `ledger verify` can vouch for as the store's own, whatever the database says."""
    held = set()
    with contextlib.suppress(keys.NoSigningKey):  # a machine without a key vouches for none
        held.add(verifier_key(keys.current_key()))
    for path in keys.retired_files().values():
        try:
            held.add(verifier_key(keys.load_key(path)))
        except keys.NoSigningKey:
            continue
    return held
