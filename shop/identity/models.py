"""The public half of every signing key the store ever used: each machine publishes
them all in the DID document, so a credential signed years ago still verifies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.timeutil import utcnow


class SigningKey(db.Model):
    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The key's RFC 7638 JWK thumbprint (base64url SHA-256): the fragment of its DID URL.
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    # {"kty": "OKP", "crv": "Ed25519", "x": ...}: never the private part.
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when `keys rotate` made another key current; a retired key still verifies.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
