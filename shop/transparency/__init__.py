"""The transparency log of the training ledger: every transfer a leaf of an RFC 9162
Merkle tree, appended in the transfer's own transaction, in commit order, with signed
checkpoints (C2SP tlog-checkpoint) and proofs anyone can check without the database
(tools/verify_log.py)."""

from __future__ import annotations

from flask import Flask


def init_transparency(app: Flask) -> None:
    from shop.extensions import db
    from shop.transparency.appending import append_as_posted
    from shop.transparency.views import bp, refusal
    from shop.web import answer_errors_under

    app.register_blueprint(bp)
    answer_errors_under(app, "/log", refusal)  # every refusal under /log in JSON
    with app.app_context():
        append_as_posted(db.session.session_factory.class_)
