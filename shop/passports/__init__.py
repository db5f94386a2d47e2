"""Signed digital product passports (issue 12): a UNTP DigitalProductPassport per batch,
a DigitalFacilityRecord per workshop, a DigitalConformityCredential per public vetting
event, each a W3C VC 2.0 secured as a compact JWS with the store's key (shop/identity/),
issued in the transaction of the change (tracking.py), kept as signed (models.py),
revoked through a Bitstring Status List (status.py) and served from storage (views.py).
"""

from __future__ import annotations

from flask import Flask


def init_passports(app: Flask) -> None:
    from shop.extensions import db
    from shop.passports.cli import register_passport_commands
    from shop.passports.tracking import track_subjects
    from shop.passports.views import CREDENTIAL_ADDRESSES, bp, plain_refusal
    from shop.web import answer_errors_under

    app.register_blueprint(bp)
    answer_errors_under(app, CREDENTIAL_ADDRESSES, plain_refusal)
    register_passport_commands(app)
    with app.app_context():
        track_subjects(db.session.session_factory.class_)
