"""The reader's language: which one a page is in, and the menu that changes it.

English is the source; Khmer, Hindi and Bengali are the languages of the programme staff
in Phnom Penh, Bihar and West Bengal (catalogs under translations/, built by `make
translations`). A page's language is, in order:

1. a signed-in user's saved choice (the menu, or `?lang=`, saves it on the account);
2. this browser's choice (the `lang` cookie, set by the menu or `?lang=`);
3. the browser's `Accept-Language`;
4. English.

`?lang=km|hi|bn|en` on any page switches: the page answers a redirect through
`/language`, which remembers the choice (cookie, and account when signed in) and comes
back to the same address without the parameter, so URLs stay the same in every language.
A GET that saves a preference is what the stable interface asks for; all it can change is
the language the account's own pages are shown in.

Numbers, dates and money are formatted for the language's locale (Hindi and Bengali as
written in India, Khmer as in Cambodia); English keeps the store's own (STORE_LOCALE).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_babel import force_locale, lazy_gettext, refresh
from flask_login import current_user, user_logged_in, user_logged_out
from werkzeug.exceptions import HTTPException

from shop.extensions import babel
from shop.sessions import signed_in


@dataclass(frozen=True)
class Language:
    code: str  # <html lang>, ?lang=, the cookie and the account
    name: str  # in its own script, as the menu shows it to someone who reads only it
    locale: str | None  # Babel's locale for translations and formats; None: STORE_LOCALE
    direction: str = "ltr"


LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("en", "English", None),
        Language("km", "ខ្មែរ", "km_KH"),
        Language("hi", "हिन्दी", "hi_IN"),
        Language("bn", "বাংলা", "bn_IN"),
    )
}
SOURCE = "en"
COOKIE = "lang"
COOKIE_SECONDS = 365 * 24 * 3600
QUERY = "lang"

bp = Blueprint("language", __name__)


def _chosen() -> str:
    if g.get("shop_forced_language"):
        return g.shop_forced_language
    if not has_request_context():
        return SOURCE  # commands, the worker: English unless told (force_language)
    if "shop_language" in g:
        return g.shop_language
    code = None
    if signed_in():
        code = current_user.language
    if code not in LANGUAGES:
        code = request.cookies.get(COOKIE)
    if code not in LANGUAGES:
        code = _accepted()
    g.shop_language = code
    return code


def _accepted() -> str:
    """The browser's first language we have, by its own order of preference: "en-GB,
    km;q=0.8" is English (a regional English is English), not Khmer."""
    for tag, quality in request.accept_languages:  # highest quality first
        if quality <= 0:  # q=0: "not this one"
            continue
        primary = tag.split("-")[0].split("_")[0].lower()
        if primary in LANGUAGES:
            return primary
    return SOURCE


def forget_chosen(*_args, **_kwargs) -> None:
    """Choose afresh: who is signed in just changed, and with it, maybe, the language
    (a message flashed on signing in speaks the account's language)."""
    g.pop("shop_language", None)
    refresh()  # Flask-Babel keeps the locale it chose for the request


def current_language() -> Language:
    """The language this page is written in (its menu, <html lang> and dir)."""
    return LANGUAGES[_chosen()]


def locale_code(language: Language | None = None) -> str:
    """Babel's locale for formatting in this language: 'hi_IN', or the store's own."""
    language = language or current_language()
    return language.locale or current_app.config.get("STORE_LOCALE", "en_US")


def select_locale() -> str:
    return locale_code(LANGUAGES[_chosen()])


@contextmanager
def force_language(code: str | None) -> Iterator[None]:
    """Render something (an email, a file) in `code`, whatever the request's language."""
    language = LANGUAGES.get(code or SOURCE, LANGUAGES[SOURCE])
    before = g.get("shop_forced_language")
    g.shop_forced_language = language.code
    try:
        with force_locale(locale_code(language)):
            yield
    finally:
        g.shop_forced_language = before


def language_choices() -> list[tuple[str, str]]:
    return [(language.code, language.name) for language in LANGUAGES.values()]


def menu_back() -> str:
    """Where the header's menu comes back to: this page's address (a kept public page names
    its path only, the same for every visitor). The answer to a form (a POST) comes back to
    the page a GET of its address shows, or home when that address takes no GET."""
    if g.get("shop_page_shell"):
        return request.path
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    try:
        current_app.create_url_adapter(request).match(request.path, method="GET")
    except HTTPException:  # 405, or a redirect: no page to come back to
        return "/"
    return request.path


def _without_lang(path: str, args) -> str:
    kept = [(key, value) for key, value in args.items(multi=True) if key != QUERY]
    return f"{path}?{urlencode(kept)}" if kept else path


@bp.get("/language")
def switch():
    """Remember a language and go back. The account's choice is saved here (a view of
    its own: one unit of work, committed like any other request)."""
    from shop.accounts.services import save_language
    from shop.database import begin_writing
    from shop.web import error_answer, safe_next

    code = request.args.get(QUERY, "")
    if code not in LANGUAGES:
        return error_answer(
            400,
            lazy_gettext("That language is not one we have"),
            lazy_gettext("Choose English, Khmer, Hindi or Bengali from the menu."),
        )
    # A HEAD asks what a GET would answer and changes nothing; a GET of a signed-in user
    # writes, so on SQLite it takes the write lock when it begins (waiting for another
    # writer under the busy timeout, never failing on an upgrade it cannot get).
    if request.method == "GET":
        begin_writing()
        if signed_in():
            save_language(current_user, code)
    response = redirect(safe_next(request.args.get("next")) or "/", 303)
    response.set_cookie(
        COOKIE, code, max_age=COOKIE_SECONDS, samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False), httponly=True,
    )  # fmt: skip
    return response


def init_i18n(app: Flask) -> None:
    from shop import ROOT

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "translations"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    babel.init_app(app, locale_selector=select_locale)
    # {% trans %} blocks lose their line breaks and indents, here and when extracted
    # (babel.cfg), so a message is one sentence however the template wraps it.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.register_blueprint(bp)
    user_logged_in.connect(forget_chosen, app)
    user_logged_out.connect(forget_chosen, app)

    @app.after_request
    def switch_by_query(response):
        # Only a redirect (no write): /language remembers the choice and comes back. Pages
        # only, known once answered: a machine's answer (the API, the log, a DID document,
        # a file) has no language and is answered as if the parameter were not there. The
        # page becomes the redirect in place, keeping the headers every answer carries.
        code = request.args.get(QUERY)
        if (
            request.method in ("GET", "HEAD")
            and code in LANGUAGES
            and request.endpoint != "language.switch"
            and response.status_code == 200
            and response.mimetype == "text/html"
            and not response.is_streamed
        ):
            back = _without_lang(request.path, request.args)
            response.status_code = 303
            response.headers["Location"] = url_for("language.switch", **{QUERY: code, "next": back})
            response.headers["Cache-Control"] = "no-store"
            for name in ("ETag", "Last-Modified", "Content-Language"):
                response.headers.pop(name, None)
            response.set_data(b"")
        return response

    @app.after_request
    def say_the_language(response):
        # The language a page was rendered in (not chosen afresh: a request that signed
        # its user out cannot ask for them again).
        code = g.get("shop_language")
        if response.mimetype == "text/html" and code:
            response.headers["Content-Language"] = code
            response.vary.add("Accept-Language")
        return response

    @app.context_processor
    def language_globals():
        return {
            "page_language": current_language(),
            "languages": LANGUAGES.values(),
            "language_menu_back": menu_back,
        }
