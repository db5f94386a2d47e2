"""The session cookie, kept off the answers that are the same for everyone.

Flask adds `Vary: Cookie` to any answer whose request looked in the session, and
Flask-Login looks after every request (its remember-cookie hook), so without this every
credential, linkset, DID document and API answer said it varied by cookie: a shared
cache would then keep one copy per visitor, or none. An answer marked with
`same_for_everyone` is built from public records only; when its request changed nothing
in the session, no cookie is set and no `Vary: Cookie` is added.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

MARK = "same_for_everyone"


def same_for_everyone(response: Response) -> Response:
    setattr(response, MARK, True)
    return response


class PublicAnswersSessionInterface(SecureCookieSessionInterface):
    def save_session(self, app: Flask, session, response: Response) -> None:
        if getattr(response, MARK, False) and not session.modified:
            return
        super().save_session(app, session, response)


def init_sessions(app: Flask) -> None:
    app.session_interface = PublicAnswersSessionInterface()


def signed_in() -> bool:
    """Whether a user is signed in, without loading one for a visitor who cannot be. Most
    visitors are anonymous: flask-login finds a user only in the session or its remember
    cookie (the store registers no request loader), so without either there is none to
    load, and loading nobody still cost a hash of the visitor's address and user agent on
    every page view."""
    from flask_login import current_user

    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if "_login_user" not in g and "_user_id" not in session and remember not in request.cookies:
        return False
    return current_user.is_authenticated
