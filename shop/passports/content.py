"""What the credentials say, in the UN Transparency Protocol's shapes (UNTP v0.6):
a DigitalProductPassport per batch, a DigitalFacilityRecord per workshop and a
DigitalConformityCredential per public vetting event, each a W3C VC 2.0.

Only public facts go in: the public columns of a workshop and a batch (shop/visibility),
a workshop's place at region level and none at all when its country is withheld, and
of a vetting event its kind and month. Never a maker, a trainee code, a legal name, an
alias, an address, coordinates, a contact, a head count, who recorded an event, its
notes, outcome text or exact date.

Each builder returns the credential's *content*: everything but its `id`, `validFrom`
and `credentialStatus`, which `finish` adds when it is issued; the content hash is
taken over the content, so a new version is issued only when the content changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app

from shop.identity.checking import payload_text
from shop.identity.did import store_did
from shop.provenance.models import VettingKind
from shop.provenance.services import ONBOARDING_STEPS, VISIT_KINDS, VettingSummary
from shop.web import site_url

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
UNTP = "https://test.uncefact.org/vocabulary/untp"
UNTP_CONTEXTS = {
    "dpp": f"{UNTP}/dpp/0.6.0/",
    "dfr": f"{UNTP}/dfr/working/",
    "dcc": f"{UNTP}/dcc/0.6.0/",
}
# Link types: one vocabulary for the credentials' links and the resolver's linkset (its
# relation types): the namespace UNTP's identity resolver publishes for `untp:`.
UNTP_LINK_TYPES = "https://vocabulary.uncefact.org/untp/linkType#"
GS1_PIP = "https://gs1.org/voc/pip"
# The terms the store adds to UNTP's, defined in its own JSON-LD context (served by
# shop.passports.views.vocabulary): UNTP dates an assessment and a production by the
# day, and the store publishes them by the month only (a day would be claimed falsely,
# and would tell more about when a workshop was visited than is published).
STORE_TERMS = {
    "productionMonth": "The month (ISO 8601 year and month) in which the batch was made.",
    "assessmentMonth": "The month (ISO 8601 year and month) in which the assessment was made.",
}
TOPICS = ("social.labour", "social.rights")
# Vetting events a conformity credential is issued for, when they passed.
PUBLIC_EVENT_KINDS = frozenset(ONBOARDING_STEPS) | VISIT_KINDS
ATTESTATION_TYPES = {
    VettingKind.INTERVIEW: "verification",
    VettingKind.INITIAL_SITE_VISIT: "inspection",
    VettingKind.STANDARDS_CHECK: "inspection",
    VettingKind.AGREEMENT_SIGNED: "declaration",
    VettingKind.FOLLOW_UP_VISIT: "inspection",
}


@dataclass(frozen=True)
class Evidence:
    """The conformity credential of a workshop's last visit, as a claim links it."""

    url: str
    jws: str
    kind: VettingKind
    month: date


def month_text(value: date) -> str:
    return value.strftime("%Y-%m")


def month_stamp(moment: datetime) -> str:
    """A credential's validFrom: the first instant of the month it was signed in. To the
    second, it would tell when a vetting visit or a suspension was recorded, which is
    published by the month only."""
    return moment.strftime("%Y-%m-01T00:00:00Z")


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def finish(content: dict, credential_id: str, valid_from: str, status: dict | None = None) -> dict:
    """The credential as signed: its content with its id, validFrom and status."""
    signed = {"@context": content["@context"], "type": content["type"], "id": credential_id}
    signed.update({k: v for k, v in content.items() if k not in signed})
    signed["validFrom"] = valid_from
    if status is not None:
        signed["credentialStatus"] = status
    return signed


# What a credential says of where a workshop is (the builders below).
LOCATION_TERMS = (
    '"addressCountry"',
    '"addressRegion"',
    '"countryOfProduction"',
    '"countryOfOperation"',
)


def names_a_location(jws: str) -> bool:
    text = payload_text(jws)
    return any(term in text for term in LOCATION_TERMS)


def claims_conformance(jws: str) -> bool:
    """Does a (facility) credential claim its workshop conforms? (signed compact JSON)"""
    return '"conformance":true' in payload_text(jws)


def contexts(kind: str) -> list[str]:
    """A credential's @context: VC 2.0, UNTP's for its kind, then the store's terms."""
    return [VC_CONTEXT, UNTP_CONTEXTS[kind], site_url("passports.vocabulary")]


def store_context() -> dict:
    """The JSON-LD context that defines STORE_TERMS (each a gYearMonth)."""
    base = site_url("passports.vocabulary")
    year_month = "http://www.w3.org/2001/XMLSchema#gYearMonth"
    terms = {name: {"@id": f"{base}#{name}", "@type": year_month} for name in STORE_TERMS}
    return {"@context": {"@version": 1.1, "@protected": True, **terms}}


def _issuer() -> dict:
    return {"type": ["CredentialIssuer"], "id": store_did(), "name": _store()}


def _store() -> str:
    return current_app.config["STORE_NAME"]


def workshop_url(workshop) -> str:
    return site_url("provenance.workshop", slug=workshop.slug)


def _facility(workshop) -> dict:
    return {"id": workshop_url(workshop), "name": workshop.name, "registeredId": workshop.slug}


def _public_country(workshop) -> str | None:
    return workshop.country_code if workshop.country_public else None


def _region_address(workshop) -> dict | None:
    """Where a workshop is, at region level; nothing when its country is withheld (a
    region would give the country away)."""
    if not workshop.country_public:
        return None
    address = {"type": ["Address"]}
    if workshop.region:
        address["addressRegion"] = workshop.region
    if workshop.country_code:
        address["addressCountry"] = workshop.country_code
    return address if len(address) > 1 else None


def _claims(
    subject_url: str, summary: VettingSummary, evidence: Evidence | None, *, current: bool = False
) -> list[dict]:
    """The vetting claims. A passport's say what held when its batch was made (its status
    bit tells of a suspension); a facility record's (`current`), which carries no status,
    say what holds now, so a suspended workshop's record claims no conformance."""
    store = _store()
    steps = ", ".join(step.label.lower() for step in summary.steps_done) or "none yet"
    visit = (
        f"; last visit by {store} staff {month_text(summary.last_visit_month)}"
        if summary.last_visit_month
        else "; not visited yet"
    )
    descriptions = {
        "social.labour": f"Made at a workshop vetted by {store} (steps passed: {steps}){visit}.",
        "social.rights": (
            f"Made by trainees of a vocational workshop vetted by {store}; each maker is "
            "credited in her own training account for every piece sold, and never named"
            f"{visit}."
        ),
    }
    vetted = all(step in summary.steps_done for step in ONBOARDING_STEPS)
    if current and summary.suspended:
        vetted = False
    claims = []
    for topic in TOPICS:
        claim = {
            "type": ["Claim", "Declaration"],
            "id": f"{subject_url}#{topic}",
            "description": descriptions[topic],
            "referenceStandard": {
                "type": ["Standard"],
                "name": f"{store} workshop vetting",
                "issuingParty": {"id": store_did(), "name": store},
            },
            "conformityTopic": topic,
            "conformance": vetted,
        }
        if evidence is not None:
            claim["assessmentMonth"] = month_text(evidence.month)
            claim["conformityEvidence"] = _evidence_link(evidence)
        claims.append(claim)
    return claims


def _evidence_link(evidence: Evidence) -> dict:
    return {
        "type": ["SecureLink", "Link"],
        "linkURL": evidence.url,
        "linkName": f"{evidence.kind.label}, {month_text(evidence.month)}",
        "linkType": f"{UNTP_LINK_TYPES}dcc",
        "hashDigest": hashlib.sha256(evidence.jws.encode("ascii")).hexdigest(),
        "hashMethod": "SHA-256",
    }


def materials(text: str) -> list[dict]:
    names = [part.strip() for part in re.split(r"[;,]", text or "")]
    return [{"type": ["Material"], "name": name} for name in names if name]


def passport_content(batch, variant, product, workshop, summary, evidence) -> dict:
    """A batch's DigitalProductPassport (all public columns: see shop.visibility)."""
    batch_url = site_url("provenance.batch", code=batch.code)
    item = {
        "type": ["Product"],
        "id": site_url("catalog.product", slug=product.slug),
        "name": product.name,
        "batchNumber": batch.code,
        # The month only: a batch records no day (`productionDate` would claim one).
        "productionMonth": month_text(batch.produced_month),
        "producedAtFacility": _facility(workshop),
        "furtherInformation": [
            {"type": ["Link"], "linkURL": batch_url, "linkName": f"Batch {batch.code}",
             "linkType": GS1_PIP},
            {"type": ["Link"], "linkName": f"Facility record: {workshop.name}",
             "linkURL": site_url("passports.facility_record", slug=workshop.slug),
             "linkType": f"{UNTP_LINK_TYPES}dfr"},
        ],
    }  # fmt: skip
    address = _region_address(workshop)
    if address is not None:
        item["producedAtFacility"]["address"] = address
    if _public_country(workshop):
        item["countryOfProduction"] = _public_country(workshop)
    if variant.options:
        # As buyers read them ("size: M, colour: red"), never as keys: an option's name is
        # free text, not a term (one named "type" or "@id" would rewrite the credential).
        item["description"] = f"{product.name} ({variant.options_label})"
    subject = {
        "type": ["ProductPassport"],
        "id": batch_url,
        "product": item,
        "granularityLevel": "batch",
        "conformityClaim": _claims(batch_url, summary, evidence),
    }
    if materials(batch.materials):
        subject["materialsProvenance"] = materials(batch.materials)
    return {
        "@context": contexts("dpp"),
        "type": ["DigitalProductPassport", "VerifiableCredential"],
        "issuer": _issuer(),
        "credentialSubject": subject,
    }


def facility_content(workshop, summary, evidence) -> dict:
    """A workshop's DigitalFacilityRecord: public columns only, place at region level."""
    facility = {
        "type": ["Facility"],
        **_facility(workshop),
        "description": workshop.kind.label,
        "idScheme": {
            "type": ["IdentifierScheme"],
            "id": site_url("provenance.workshops"),
            "name": f"{_store()} workshops",
        },
    }
    if _public_country(workshop):
        facility["countryOfOperation"] = _public_country(workshop)
    address = _region_address(workshop)
    if address is not None:
        facility["address"] = address
    url = workshop_url(workshop)
    return {
        "@context": contexts("dfr"),
        "type": ["DigitalFacilityRecord", "VerifiableCredential"],
        "issuer": _issuer(),
        "credentialSubject": {
            "type": ["FacilityRecord"],
            "id": url,
            "facility": facility,
            "conformityClaim": _claims(url, summary, evidence, current=True),
        },
    }


def conformity_content(event, workshop, credential_url: str) -> dict:
    """A passed onboarding step or visit, as its kind and month only."""
    month = month_text(event.occurred_on)
    facility = {"id": workshop_url(workshop), "name": workshop.name}
    assessments = [
        {
            "type": ["ConformityAssessment", "Declaration"],
            "id": f"{credential_url}#{topic}",
            "name": f"{event.kind.label}, {month}",
            "assessmentMonth": month,
            "conformityTopic": topic,
            "conformance": True,
            "assessedFacility": [{"type": ["FacilityVerification"], "facility": facility}],
        }
        for topic in TOPICS
    ]
    return {
        "@context": contexts("dcc"),
        "type": ["DigitalConformityCredential", "VerifiableCredential"],
        "issuer": _issuer(),
        "credentialSubject": {
            "type": ["ConformityAttestation", "Attestation"],
            "id": f"{credential_url}#attestation",
            "name": f"{event.kind.label} of {workshop.name}, {month}",
            "assessorLevel": "Buyer",
            "assessmentLevel": "Unspecified",
            "attestationType": ATTESTATION_TYPES[event.kind],
            "issuedToParty": facility,
            "assessment": assessments,
        },
    }
