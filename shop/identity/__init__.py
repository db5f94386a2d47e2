"""The store's identity: its Ed25519 signing keys and the `did:web` document that
publishes them (shop/identity/keys.py, did.py, signing.py). Credentials (the passports,
shop/passports/) and the transparency log sign with `signing.sign_jws`."""

from __future__ import annotations

from flask import Flask


def init_identity(app: Flask) -> None:
    from shop.extensions import db
    from shop.identity.cli import register_key_commands
    from shop.identity.keys import track_published
    from shop.identity.views import bp

    app.register_blueprint(bp)
    register_key_commands(app)
    with app.app_context():
        track_published(db.session.session_factory.class_)
