"""A hostile crawl of the whole store (issue 9, "What must hold").

Every route of the URL map (walked at run time, so a route added later is crawled too)
gets each hostile value below: in every query-string parameter a view reads, in every
field of the forms the route's page renders (all at once, and one at a time with the
page's own values in the others), and in every path argument. Signed in as each role,
with a valid CSRF token so the request reaches validation. No answer may be a 5xx; an
answer that refuses (4xx) must have changed nothing (row counts of every table and sums
of every number and state column, tests/store_state.py); no HTML answer may carry the
markup unescaped. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import event

from shop.extensions import db
from tests.store_state import changes, store_state
from tests.whole_store import (
    META,
    SCRIPT,
    all_rules,
    build_store,
    clients,
    csrf_token_of,
    form_class_fields,
    forms_on,
    path_for,
    query_names,
    raw_markup_in,
    resign,
)

HOSTILE = {
    "10^23": "1" + "0" * 23,
    "-1": "-1",
    "NUL": "\x00",
    "superscript two": "²",
    "1E+999999": "1E+999999",
    "10 kB": "lorem ipsum " * 854,
    "markup": META + SCRIPT,
}
# For a role the route turns away before reading anything (403, or off to sign in): the
# guard runs after the NUL check and the path converters, so these two reach it all.
BEFORE_THE_GUARD = ("NUL", "10^23")
CSRF = "csrf_token"
PICTURES = ("image/png", "image/vnd.microsoft.icon", "image/x-icon")


class Crawl:
    def __init__(self, app, store):
        self.app, self.store = app, store
        self.state = store_state()
        self.requests = self.refused = self.writes = 0
        self.query = sorted(query_names())
        self.class_fields = sorted(form_class_fields())
        self.attacked_forms: set[str] = set()
        # Every session of the test shares one connection: watching it for writes tells
        # which requests may have changed something, so only those pay for a fingerprint.
        self.connection = db.engines[None]
        event.listen(self.connection, "before_cursor_execute", self._saw_statement)

    def _saw_statement(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.writes += 1

    def close(self) -> None:
        event.remove(self.connection, "before_cursor_execute", self._saw_statement)

    def send(self, client, method: str, path: str, where: str, **kwargs):
        if getattr(client, "session_changed", True):
            resign(client)  # a crawled sign-out or password change may have ended it
        writes = self.writes
        response = client.open(path, method=method, **kwargs)
        self.requests += 1
        client.session_changed = any(
            c.startswith("session=") for c in response.headers.getlist("Set-Cookie")
        )
        assert response.status_code < 500, (where, method, path[:200], response.status_code)
        if not response.mimetype.startswith(PICTURES):  # the icons: nothing to read in them
            assert "This form has expired" not in response.get_data(as_text=True), (where, path)
        if response.mimetype == "text/html":
            assert raw_markup_in(response.get_data(as_text=True)) == [], (where, path[:200])
        # 402: the card was declined, an outcome the store records (a failed payment), not
        # input it refused.
        refused = 400 <= response.status_code < 500 and response.status_code != 402
        self.refused += refused
        if self.writes != writes:  # it wrote something, perhaps rolled back: look
            now = store_state()
            if refused:
                assert changes(self.state, now) == {}, (
                    where,
                    method,
                    path[:200],
                    response.status_code,
                )
            self.state = now
        return response

    def discover(self, client) -> dict[str, dict[str, str]]:
        """GET every page this client may see; the forms on them by the path they post to,
        as {field: the value the page put in it}. Then once more with something in the
        cart, for the forms only a cart with items shows. Leaves the client with a CSRF
        token."""
        forms: dict[str, dict[str, str]] = {}
        self._discover_pages(client, forms)
        assert client.csrf, "no page gave this client a CSRF token"
        with client.session_transaction() as session:
            client.raw_csrf = session.get(CSRF)
        with self.app.test_request_context():
            cart_add = url_for("orders.cart_add")
        if cart_add in forms:
            self.send(
                client, "POST", cart_add, "discover", data=self.with_token(client, forms[cart_add])
            )
            self._discover_pages(client, forms)
        self.every_field = sorted({*self.class_fields, *(n for f in forms.values() for n in f)})
        return forms

    def _discover_pages(self, client, forms: dict) -> None:
        for rule, method in all_rules(self.app):
            if method != "GET":
                continue
            path = path_for(rule, self.store)
            response = self.send(client, "GET", path, "discover")
            if response.mimetype != "text/html":
                continue
            page = response.get_data(as_text=True)
            client.csrf = getattr(client, "csrf", None) or csrf_token_of(page)
            for form in forms_on(page, path):
                if form.method == "POST":
                    forms.setdefault(form.action, {}).update(form.fields)

    def with_token(self, client, data: dict) -> dict:
        return {
            **data,
            **{name: client.csrf for name in data if name.endswith(CSRF)},
            CSRF: client.csrf,
        }

    def attack(self, client, role: str, rule, method: str, forms) -> None:
        path = path_for(rule, self.store)
        page_fields = forms.get(path)
        fields = [n for n in (page_fields or self.every_field) if not n.endswith(CSRF)]
        baseline = self.with_token(client, page_fields or {})
        labels = list(HOSTILE)
        for label in labels:
            value, where = HOSTILE[label], f"{role} {label}"
            if method == "GET":
                query = dict.fromkeys(self.query, value)
                response = self.send(client, "GET", path, where, query_string=query)
            else:
                every = self.with_token(client, dict.fromkeys(fields, value))
                response = self.send(client, method, path, where + " in every field", data=every)
            for argument in rule.arguments:
                bad_path = path_for(rule, self.store, **{argument: value})
                self.send(client, method, bad_path, f"{where} as <{argument}>",
                          data=baseline if method != "GET" else None)  # fmt: skip
            if label == labels[0] and _turned_away(response):
                labels[1:] = [label for label in BEFORE_THE_GUARD if label != labels[0]]
        if method != "GET" and page_fields and path not in self.attacked_forms:
            # one field at a time, the others as the page filled them: once per form,
            # by the first role that is shown it
            self.attacked_forms.add(path)
            for name in fields:
                for label, value in HOSTILE.items():
                    self.send(client, method, path, f"{role} {label} as {name}",
                              data={**baseline, name: value})  # fmt: skip


def _turned_away(response) -> bool:
    """Refused for who the visitor is, before the view read any input."""
    location = response.headers.get("Location", "")
    return response.status_code == 403 or (response.status_code == 302 and "/login" in location)


def test_no_route_fails_or_changes_anything_when_sent_hostile_input(csrf_app):
    app = csrf_app
    with app.app_context():
        store = build_store()
        crawl = Crawl(app, store)
        try:
            for role, client in clients(app, store).items():
                forms = crawl.discover(client)
                for rule, method in all_rules(app):
                    crawl.attack(client, role, rule, method, forms)
        finally:
            crawl.close()
        rules = {rule.rule for rule, _ in all_rules(app)}
        assert len(rules) >= 60 and crawl.requests > 2000 and crawl.refused > 1000, (
            len(rules), crawl.requests, crawl.refused)  # fmt: skip
