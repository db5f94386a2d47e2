"""Validating a credential against the UNTP JSON Schemas a verifier has (`--schemas DIR`):
the schema is picked by the credential's type. jsonschema is needed only here, and only
when a folder of schemas is given."""

from __future__ import annotations

import json
from pathlib import Path

UNTP_TYPES = ("DigitalProductPassport", "DigitalFacilityRecord", "DigitalConformityCredential")
PROBLEMS_SHOWN = 3


def schema_file(folder: Path, credential_type: str) -> Path | None:
    """`<Type>-schema.json` in `folder`, else any JSON Schema there whose `type` property
    defaults to that credential type (as UNTP's own artefacts, untp-dpp-schema-0.6.1.json)."""
    named = folder / f"{credential_type}-schema.json"
    if named.is_file():
        return named
    for path in sorted(folder.glob("*.json")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            continue  # not a JSON Schema of an object (a list, a number, anything else)
        kind = schema["properties"].get("type")
        default = kind.get("default") if isinstance(kind, dict) else None
        if "$schema" in schema and isinstance(default, list) and credential_type in default:
            return path
    return None


def problems(payload: dict, schema_path: Path) -> list[str]:
    """What breaks the schema ("/credentialSubject/product: 'name' is a required
    property"), at most a few; none when valid. ImportError without jsonschema."""
    import jsonschema

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    found = []
    for error in errors:
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        found.append(f"{where}: {error.message[:200]}")
    return found
