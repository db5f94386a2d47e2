#!/usr/bin/env python3
"""Check the Made Known ledger's transparency log from outside, with no access to the
store's database or code: Python 3.10+ and the `cryptography` package only.

    python verify_log.py https://store.example --key 'NAME+HASH+KEY'
        checks the store's latest checkpoint: its Ed25519 signature (C2SP signed-note)
        against the verifier key you were given (from /log/key, kept by an auditor);
    ... --index 42 [--leaf-file receipt-leaf.json] [--checkpoint receipt-checkpoint.txt]
        also proves that entry 42 (its leaf as the log serves it, or as your receipt
        printed it) is in the tree the checkpoint signs (RFC 9162 inclusion proof): the
        latest one, or the one your receipt printed;
    ... --index 42 --leaf-file leaf.json --account 7 --opening OPENING
        also checks that the entry credits account 7 (the opening and account number
        are on the trainee's receipt: nobody else can tell whose the entry is);
    ... --since saved-checkpoint.txt [--since-key 'NAME+HASH+OLDKEY']
        also proves that the tree you saved earlier is a prefix of today's: nothing
        in it was changed, removed or reordered (RFC 9162 consistency proof); a
        checkpoint signed before the store rotated its key is read with --since-key;
    ... --save checkpoint.txt
        keeps today's checkpoint for the next check.

Exit status: 0 when every check holds, 1 when one fails (the log is not what it
claimed), 2 when the check could not be made (network, usage).
The store serves this file at /log/verify_log.py; it is tools/verify_log.py in its
repository.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519 = 0x01  # the signed-note signature type
EM_DASH = "\u2014"


class LogError(Exception):
    """A check failed: the log is not what it claims."""


# --- RFC 9162 §2.1 ----------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """The root that `path` proves leaf hash `leaf` at `index` under (RFC 9162
    §2.1.3.2); raises LogError for a path of the wrong shape."""
    if not 0 <= index < size:
        raise LogError(f"index {index} is not in a tree of {size} entries")
    fn, sn, value = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise LogError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            value = _node(sibling, value)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            value = _node(value, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise LogError("the inclusion proof is too short")
    return value


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> None:
    if root_from_inclusion(index, size, leaf, path) != root:
        raise LogError(f"entry {index} is not in the tree of {size} entries whose root is signed")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: list[bytes]
) -> None:
    """Raises LogError unless `path` proves the tree of `old_size` entries with `old_root`
    a prefix of the one of `new_size` with `new_root` (RFC 9162 §2.1.4.2)."""
    if old_size > new_size:
        raise LogError(f"the log shrank from {old_size} to {new_size} entries")
    if old_size == new_size:
        if path or old_root != new_root:
            raise LogError(f"two different trees of {old_size} entries were signed")
        return
    if old_size == 0:
        return  # every tree extends the empty one
    if not path:
        raise LogError("the consistency proof is empty")
    if old_size & (old_size - 1) == 0:  # a power of two: the old root starts the path
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for value in path[1:]:
        if sn == 0:
            raise LogError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            first, second = _node(value, first), _node(value, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = _node(second, value)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise LogError("the consistency proof is too short")
    if first != old_root or second != new_root:
        raise LogError(
            f"the tree of {old_size} entries you saved is not a prefix of today's tree of "
            f"{new_size}: entries were changed, removed or reordered"
        )


# --- A credit's account commitment, as its receipt opens it ------------------------------


def account_commitment_from(opening: str, account_id: int) -> str:
    """The account commitment a leaf carries, made from the opening a receipt prints (a
    secret only the store can make, one per transfer) and the account's number:
    base64url(SHA-256(opening ‖ 0x0A ‖ "account:<id>")). Without the opening nobody can
    tell whose it is; with it, its holder can check it is hers."""
    digest = hashlib.sha256(f"{opening}\naccount:{account_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_opening(leaf: str, account_id: int, opening: str) -> None:
    try:
        credited = json.loads(leaf)["credit"]
    except (ValueError, KeyError, TypeError):
        raise LogError("the leaf is not an entry of this log (no credit in it)") from None
    if account_commitment_from(opening, account_id) != credited:
        raise LogError(f"the entry's credit is not account {account_id}'s with this opening")


# --- C2SP signed-note and tlog-checkpoint -----------------------------------------------


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 bytes, Ed25519

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        try:
            name, key_id, encoded = text.strip().split("+", 2)  # base64 may hold "+"
            raw = base64.b64decode(encoded, validate=True)
            key_id_bytes = bytes.fromhex(key_id)
        except ValueError:
            raise LogError(f"not a verifier key (name+hash+key): {text.strip()[:80]!r}") from None
        if len(key_id_bytes) != 4 or len(raw) != 33 or raw[0] != ED25519:
            raise LogError("not an Ed25519 signed-note verifier key")
        key = cls(name, key_id_bytes, raw[1:])
        if key_id_for(name, raw[1:]) != key_id_bytes:
            raise LogError("the verifier key's hash does not match its name and key")
        return key


def key_id_for(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the whole signed note, as served


def parse_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    """The checkpoint in signed note `note`, once a signature by `key` on it verifies."""
    body, sep, signatures = note.partition("\n\n")
    if not sep or not body:
        raise LogError("not a signed note: no blank line between text and signatures")
    body += "\n"
    verified = False
    for line in signatures.splitlines():
        if not line:
            continue
        prefix = f"{EM_DASH} {key.name} "
        if not line.startswith(prefix):
            continue
        try:
            raw = base64.b64decode(line[len(prefix) :], validate=True)
        except ValueError:
            raise LogError("a signature line is not base64") from None
        if len(raw) != 68 or raw[:4] != key.key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(raw[4:], body.encode())
        except InvalidSignature:
            raise LogError(f"the checkpoint's signature by {key.name} does not verify") from None
        verified = True
    if not verified:
        raise LogError(f"the checkpoint carries no signature by {key.name}")
    lines = body.split("\n")
    if len(lines) < 4:
        raise LogError("a checkpoint has an origin, a size and a root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if origin != key.name:
        raise LogError(f"the checkpoint is of log {origin!r}, not of {key.name!r}")
    if not (size_text.isascii() and size_text.isdigit()) or (
        size_text != "0" and size_text.startswith("0")
    ):
        raise LogError(f"the tree size {size_text!r} is not a number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise LogError("the root hash is not base64") from None
    if len(root) != 32:
        raise LogError("the root hash is not a SHA-256 hash")
    return Checkpoint(origin, int(size_text), root, note)


# --- Talking to the store ---------------------------------------------------------------


class Store:
    def __init__(self, base_url: str, timeout: float = 30):
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def text(self, path: str, **query) -> str:
        url = f"{self.base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=self.timeout) as answer:  # noqa: S310
            return answer.read().decode("utf-8")

    def json(self, path: str, **query) -> dict:
        return json.loads(self.text(path, **query))

    def checkpoint(self, key: VerifierKey) -> Checkpoint:
        return parse_checkpoint(self.text("/log/checkpoint"), key)

    def leaf(self, index: int) -> str:
        entries = self.json("/log/entries", start=index, end=index + 1)["entries"]
        if not entries or entries[0]["index"] != index:
            raise LogError(f"the log served no entry {index}")
        return entries[0]["leaf"]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        proof = self.json("/log/proof/inclusion", index=index, size=size)
        return [base64.b64decode(h, validate=True) for h in proof["hashes"]]

    def consistency(self, old: int, new: int) -> list[bytes]:
        if old == 0 or old == new:
            return []
        proof = self.json("/log/proof/consistency", **{"from": old, "to": new})
        return [base64.b64decode(h, validate=True) for h in proof["hashes"]]


def check_inclusion(store: Store, checkpoint: Checkpoint, index: int, leaf: str) -> None:
    if not 0 <= index < checkpoint.size:
        raise LogError(f"entry {index} is not in the log of {checkpoint.size} entries signed")
    path = store.inclusion(index, checkpoint.size)
    verify_inclusion(index, checkpoint.size, leaf_hash(leaf.encode("utf-8")), path, checkpoint.root)


def check_consistency(store: Store, old: Checkpoint, new: Checkpoint) -> None:
    # Said before anything is asked of the store: a log that shrank has no proof to give.
    if old.size > new.size:
        raise LogError(f"the log shrank from {old.size} to {new.size} entries: it was rewritten")
    path = store.consistency(old.size, new.size)
    verify_consistency(old.size, new.size, old.root, new.root, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", help="the store's address, e.g. https://madeknown.example")
    parser.add_argument("--key", help="the log's verifier key (NAME+HASH+KEY); "
                        "without it, the one the store serves at /log/key is trusted")  # fmt: skip
    parser.add_argument("--index", type=int, help="prove that this entry is in the log")
    parser.add_argument("--leaf-file", help="the entry's leaf as a receipt printed it")
    parser.add_argument("--checkpoint", help="prove --index against this checkpoint (as a "
                        "receipt printed it) rather than the latest")  # fmt: skip
    parser.add_argument("--account", type=int, help="with --opening: the account number a "
                        "receipt prints, to check the entry credits it")  # fmt: skip
    parser.add_argument("--opening", help="the opening a receipt prints for the entry")
    parser.add_argument("--since", help="a checkpoint saved earlier: prove the log only grew")
    parser.add_argument("--since-key", help="the key that signed the --since checkpoint, when "
                        "the store has rotated its key since (default: --key)")  # fmt: skip
    parser.add_argument("--save", help="keep today's checkpoint in this file")
    args = parser.parse_args(argv)
    store = Store(args.store)
    try:
        if args.key:
            key = VerifierKey.parse(args.key)
        else:
            key = VerifierKey.parse(store.text("/log/key"))
            print(f"Using the key the store serves ({key.name}); pass --key to pin it.")
        if args.checkpoint:
            with open(args.checkpoint, encoding="utf-8") as saved:
                checkpoint = parse_checkpoint(saved.read(), key)
        else:
            checkpoint = store.checkpoint(key)
        print(f"Checkpoint of {checkpoint.origin}: {checkpoint.size} entries, signature good.")
        if args.index is not None:
            if not 0 <= args.index < checkpoint.size:
                raise LogError(f"entry {args.index} is not in the log of {checkpoint.size} "
                               "entries signed")  # fmt: skip
            if args.leaf_file:
                with open(args.leaf_file, encoding="utf-8") as leaf_file:
                    leaf = leaf_file.read().strip()
            else:
                leaf = store.leaf(args.index)
            check_inclusion(store, checkpoint, args.index, leaf)
            print(f"Entry {args.index} is in the log: its inclusion proof holds.")
            if args.opening is not None and args.account is not None:
                check_opening(leaf, args.account, args.opening)
                print(f"Entry {args.index} credits account {args.account}: the opening holds.")
        if args.since:
            old_key = VerifierKey.parse(args.since_key) if args.since_key else key
            with open(args.since, encoding="utf-8") as saved:
                old = parse_checkpoint(saved.read(), old_key)
            check_consistency(store, old, checkpoint)
            print(f"The log of {old.size} entries you saved is a prefix of today's "
                  f"{checkpoint.size}: nothing was rewritten.")  # fmt: skip
        if args.save:
            with open(args.save, "w", encoding="utf-8") as out:
                out.write(checkpoint.text)
            print(f"Saved today's checkpoint to {args.save}.")
    except LogError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError) as exc:
        print(f"Could not check the log: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
