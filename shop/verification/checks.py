"""The checks a verifier makes of a credential, each one a line: read, typ, issuer, DID
document, key, signature, validity dates, status list and status bit, schema.

The issuer must be the one expected (the store's own DID, or --issuer's). A check that
cannot be made (no status list named, no schemas given) is reported as not checked, never
as passed; but one the operator asked for (--schemas) fails, and so does a passport or
facility record that names no status the store could revoke it by. A failure that leaves
nothing to check further (unreadable input, a foreign issuer, no DID document, unknown
key) ends the list there."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from joserfc.jwk import OKPKey

from shop.resolver.links import LINKSET_TYPE, UNTP_DPP
from shop.verification import schemas
from shop.verification.fetch import VerifyInputError, fetch, is_url, read_file, text_of
from shop.verification.jose import (
    ALGORITHMS,
    CREDENTIAL_TYPES,
    credential_issuer,
    did_document,
    issuer_of,
    parse_compact,
    public_key,
    signature_valid,
)
from shop.verification.status_list import StatusListError, bit_at, decode_bitstring

CREDENTIAL = "application/vc+jwt"
# A tag's address answers its linkset to this (shop.resolver.links), a passport its JWS.
FIRST_ACCEPT = f"{CREDENTIAL}, {LINKSET_TYPE};q=0.9, */*;q=0.1"
PASSPORT_RELATIONS = (UNTP_DPP, "untp:dpp")
# What the store can revoke: one of these without a status entry could never read as revoked.
STATUS_REQUIRED = ("DigitalProductPassport", "DigitalFacilityRecord")


class Stop(Exception):
    """Nothing further can be checked."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not checked (and said why)
    detail: str


@dataclass(frozen=True)
class Options:
    # The DID the credential must be issued by: the store's own unless --issuer names one.
    issuer: str
    issuer_named: bool = False
    allow_http: bool = False
    did_document: str | None = None  # a file or URL standing for the issuer's DID document
    schemas: Path | None = None
    now: datetime | None = None


@dataclass
class Signed:
    """A compact JWS read and taken apart."""

    token: str
    header: dict
    payload: dict
    where: str


@dataclass
class Verifier:
    options: Options
    checks: list[Check] = field(default_factory=list)
    documents: dict[str, tuple[dict, str]] = field(default_factory=dict)
    # The credential's issuer DID: the DID document --did-document gives is its document.
    issuer: str | None = None

    def add(self, name: str, ok: bool | None, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def fail(self, name: str, detail: str) -> Stop:
        self.add(name, False, detail)
        return Stop()

    # --- reading ------------------------------------------------------------------------

    def read(self, source: str) -> Signed:
        try:
            token, where = self._token(source)
            header, payload = parse_compact(token)
        except VerifyInputError as exc:
            raise self.fail("read", str(exc)) from None
        types = payload.get("type")
        named = (
            ", ".join(str(t) for t in types if t != "VerifiableCredential")
            if isinstance(types, list)
            else ""
        )
        self.add("read", True, f"a compact JWS from {where}" + (f" ({named})" if named else ""))
        return Signed(token, header, payload, where)

    def _token(self, source: str) -> tuple[str, str]:
        allow_http = self.options.allow_http
        if not is_url(source):
            return text_of(read_file(source), source).strip(), source
        fetched = fetch(source, allow_http=allow_http, accept=FIRST_ACCEPT)
        where = fetched.url
        if fetched.media_type == LINKSET_TYPE:  # a tag's address: follow its passport link
            href = _passport_link(fetched.body, where)
            fetched = fetch(href, allow_http=allow_http, accept=CREDENTIAL)
            where = f"{fetched.url} (the passport the linkset of {source} names)"
        if fetched.media_type in ("text/html", "application/xhtml+xml"):
            raise VerifyInputError(
                f"{fetched.url} answered a web page, not a credential: give the passport's "
                "address (…/p/<code>/passport) or the tag's address"
            )
        return text_of(fetched.body, where).strip(), where

    # --- the issuer, its key, the signature ---------------------------------------------

    def key_of(self, signed: Signed, label: str = "") -> OKPKey:
        prefix = f"{label} " if label else ""
        header = signed.header
        if header.get("alg") not in ALGORITHMS:
            raise self.fail(
                f"{prefix}alg",
                f"alg is {header.get('alg')!r}: this tool checks Ed25519 signatures (EdDSA)",
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or "#" not in kid:
            raise self.fail(
                f"{prefix}key", "the header names no key (kid, a DID URL like did:web:…#…)"
            )
        did = kid.split("#", 1)[0]
        if label:
            issuer = issuer_of(signed.payload)
        else:
            try:
                issuer = credential_issuer(signed.payload)
            except VerifyInputError as exc:
                raise self.fail("issuer", str(exc)) from None
        if issuer is not None and issuer != did:
            raise self.fail(f"{prefix}issuer", f"signed with a key of {did} but issued by {issuer}")
        if not label:
            self.expected_issuer(did)
            self.issuer = did
        try:
            document, where = self._document(did)
        except VerifyInputError as exc:
            raise self.fail(f"{prefix}DID document", str(exc)) from None
        if not label:
            self.add("DID document", True, f"read from {where}")
        try:
            key = public_key(document, kid)
        except VerifyInputError as exc:
            raise self.fail(f"{prefix}key", str(exc)) from None
        if not label:
            self.add("key", True, f"{kid}: Ed25519, listed for signing credentials")
        return key

    def expected_issuer(self, did: str) -> None:
        """A look-alike signed by another DID (even naming the store) is not the store's."""
        expected = self.options.issuer
        if did == expected:
            whose = "as --issuer asks" if self.options.issuer_named else "this store's own DID"
            self.add("issuer", True, f"{did}, {whose}")
            return
        if self.options.issuer_named:
            raise self.fail("issuer", f"issued by {did}, not by {expected} (--issuer)")
        raise self.fail(
            "issuer",
            f"issued by {did}, not by this store ({expected}); to check another store's "
            "credential on purpose, give --issuer DID",
        )

    def _document(self, did: str) -> tuple[dict, str]:
        if did not in self.documents:
            override = self.options.did_document if did == self.issuer else None
            self.documents[did] = did_document(
                did, allow_http=self.options.allow_http, override=override
            )
        return self.documents[did]

    # --- the whole credential -----------------------------------------------------------

    def run(self, source: str) -> list[Check]:
        try:
            signed = self.read(source)
            typ = signed.header.get("typ")
            if typ in CREDENTIAL_TYPES:
                self.add("typ", True, f"{typ}: a verifiable credential secured with JOSE")
            else:
                self.add("typ", False, f"typ is {typ!r}, not vc+jwt: not a JOSE-secured credential")
            key = self.key_of(signed)
            if signature_valid(signed.token, key):
                self.add("signature", True, "valid: signed by that key, and unchanged since")
            else:
                self.add("signature", False, "does not match: the credential was changed, or "
                         "was not signed by that key")  # fmt: skip
            self.add("validity", *self.validity(signed.payload))
            self.status(signed.payload)
            self.schema(signed.payload)
        except Stop:
            pass
        return self.checks

    def validity(self, payload: dict) -> tuple[bool, str]:
        """Whether now is within validFrom and validUntil, and what they are."""
        now = self.options.now or datetime.now(UTC)
        try:
            start = _moment(payload.get("validFrom"))
            end = _moment(payload.get("validUntil"))
        except ValueError as exc:
            return False, str(exc)
        if start and now < start:
            return False, f"not valid before {start.isoformat()}"
        if end and now >= end:
            return False, f"expired on {end.isoformat()}"
        since = f"valid from {start.isoformat()}" if start else "no validFrom"
        return True, f"{since}, {f'until {end.isoformat()}' if end else 'with no end'}"

    def status(self, payload: dict) -> None:
        entries = payload.get("credentialStatus")
        listed = entries if isinstance(entries, list) else [entries] if entries else []
        types = payload.get("type") if isinstance(payload.get("type"), list) else []
        revocable = next((t for t in STATUS_REQUIRED if t in types), None)
        if revocable and all(_unusable(entry) for entry in listed):
            self.add(
                "status",
                False,
                f"a {revocable} must name its status (credentialStatus: a "
                "BitstringStatusListEntry with statusListCredential and statusListIndex); "
                f"this one names {'no usable one' if listed else 'none'}, so whether it was "
                "revoked cannot be checked",
            )
            return
        if not listed:
            self.add("status", None, "not checked: the credential names no status list")
            return
        for entry in listed:
            self._status_entry(entry)

    def _status_entry(self, entry) -> None:
        unusable = _unusable(entry)
        if unusable:
            self.add("status", *unusable)
            return
        purpose = entry.get("statusPurpose") or "revocation"
        index, url = entry["statusListIndex"], entry["statusListCredential"]
        try:
            signed = self._status_list(url, purpose)
            bits = decode_bitstring(
                (signed.payload.get("credentialSubject") or {}).get("encodedList")
            )
            bit = bit_at(bits, int(index))
        except (VerifyInputError, StatusListError) as exc:
            self.add("status", False, f"{purpose}: the status list {url} cannot be read: {exc}")
            return
        except Stop:
            return
        word = {"revocation": "revoked", "suspension": "suspended"}.get(purpose, purpose)
        where = f"bit {int(index)} of {url}"
        if bit:
            self.add("status", False, f"{word}: {where} is set")
        else:
            self.add("status", True, f"not {word}: {where} is 0")

    def _status_list(self, url: str, purpose: str) -> Signed:
        try:
            fetched = fetch(url, allow_http=self.options.allow_http, accept=CREDENTIAL)
            token = text_of(fetched.body, url).strip()
            header, payload = parse_compact(token)
        except VerifyInputError as exc:
            raise self.fail("status list", f"{url}: {exc}") from None
        signed = Signed(token, header, payload, url)
        lister = issuer_of(payload)
        if lister != self.issuer:
            raise self.fail("status list", f"{url} is issued by {lister}, not by {self.issuer}")
        key = self.key_of(signed, label="status list")
        if not signature_valid(token, key):
            raise self.fail("status list", f"{url}: its signature does not match")
        types = payload.get("type") or []
        subject = payload.get("credentialSubject") or {}
        if "BitstringStatusListCredential" not in types:
            raise self.fail("status list", f"{url} is not a BitstringStatusListCredential")
        if subject.get("statusPurpose", purpose) != purpose:
            raise self.fail(
                "status list", f"{url} lists {subject.get('statusPurpose')}, not {purpose}"
            )
        valid, dates = self.validity(payload)
        if not valid:
            raise self.fail("status list", f"{url}: {dates}")
        self.add("status list", True, f"{url}: signed by {header.get('kid')}, {dates}")
        return signed

    def schema(self, payload: dict) -> None:
        folder = self.options.schemas
        types = payload.get("type") if isinstance(payload.get("type"), list) else []
        wanted = next((t for t in schemas.UNTP_TYPES if t in types), None)
        if folder is None:
            self.add("schema", None, "not checked: give --schemas DIR with the UNTP JSON Schemas")
            return
        # Asked for with --schemas, so a schema check that cannot be made fails the verdict.
        if not folder.is_dir():
            self.add("schema", False, f"{folder} is not a folder of JSON Schemas")
            return
        if wanted is None:
            shown = ", ".join(str(t) for t in types if isinstance(t, str)) or "none"
            self.add("schema", False, f"cannot be checked as asked: no UNTP schema is for the "
                     f"types of this credential ({shown})")  # fmt: skip
            return
        path = schemas.schema_file(folder, wanted)
        if path is None:
            self.add("schema", False, f"cannot be checked as asked: {folder} holds no {wanted} "
                     f"schema ({wanted}-schema.json or UNTP's own file)")  # fmt: skip
            return
        try:
            found = schemas.problems(payload, path)
        except ImportError:
            self.add("schema", False, "cannot be checked as asked: the jsonschema package is "
                     "not installed (pip install jsonschema)")  # fmt: skip
            return
        except (OSError, ValueError) as exc:
            self.add("schema", False, f"{path} cannot be used: {exc}")
            return
        except RecursionError:
            self.add("schema", False, f"cannot be checked against {path.name}: the credential "
                     "or the schema is nested too deeply")  # fmt: skip
            return
        if found:
            shown = "; ".join(found[: schemas.PROBLEMS_SHOWN])
            more = (
                f" (and {len(found) - schemas.PROBLEMS_SHOWN} more)"
                if len(found) > schemas.PROBLEMS_SHOWN
                else ""
            )
            self.add("schema", False, f"breaks {path.name}: {shown}{more}")
        else:
            self.add("schema", True, f"valid against {path.name}")


def _moment(value) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time (like 2026-03-01T00:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _unusable(entry) -> tuple[bool | None, str] | None:
    """Why a status entry cannot be read here (as a check's outcome and detail); None for
    one this tool reads: one bit of a Bitstring Status List, at an index of a list."""
    if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
        kind = entry.get("type") if isinstance(entry, dict) else entry
        return None, f"not checked: a status entry of type {kind!r} is not read here"
    index, url = entry.get("statusListIndex"), entry.get("statusListCredential")
    if not (isinstance(index, (str, int)) and str(index).isdigit() and isinstance(url, str)):
        return False, "the status entry has no statusListIndex or statusListCredential"
    if str(entry.get("statusSize", 1)) != "1":
        return None, "not checked: entries of more than one bit are not read here"
    return None


def _passport_link(body: bytes, where: str) -> str:
    try:
        contexts = json.loads(body)["linkset"]
        for context in contexts:
            for relation in PASSPORT_RELATIONS:
                for target in context.get(relation) or []:
                    if target.get("href"):
                        return target["href"]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise VerifyInputError(f"{where} answered a linkset that cannot be read") from None
    raise VerifyInputError(f"the linkset of {where} names no passport (untp:dpp)")


def verify(source: str, options: Options) -> list[Check]:
    return Verifier(options).run(source)
