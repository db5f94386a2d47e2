"""Email: SMTP when MAIL_SERVER is set, otherwise .eml files in MAIL_OUTBOX.

Every email is sent by a job (shop.jobs), after the transaction that called for it
committed; `deliver` raises on failure, and the job is tried again later.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

from flask import current_app, render_template

from shop.timeutil import utcnow

log = logging.getLogger("shop.mail")


def build(
    to: str, subject: str, template: str, message_id: str | None = None, **context
) -> EmailMessage:
    """`message_id`: the job's own (shop.jobs.message_id), so a resent copy is the same
    message; a random one otherwise."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or f"<{uuid.uuid4()}@madeknown>"
    message.set_content(render_template(f"email/{template}.txt", **context))
    message.add_alternative(render_template(f"email/{template}.html", **context), subtype="html")
    return message


def deliver(message: EmailMessage) -> None:
    config = current_app.config
    if config.get("MAIL_SERVER"):
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(message)
        return
    outbox = Path(config["MAIL_OUTBOX"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S.%f}-{uuid.uuid4().hex[:8]}.eml"  # sorts in sending order
    (outbox / name).write_bytes(bytes(message))


def send_safely(message: EmailMessage, what: str) -> bool:
    try:
        deliver(message)
    except Exception:  # mail must never take an order down with it
        log.exception("could not send %s", what)
        return False
    return True
