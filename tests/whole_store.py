"""Pieces shared by the whole-store tests (the hostile crawl and the escaping test): a
store with one of everything, a client per role, every route of the URL map filled in,
and the forms each page renders. All read from the app and the schema rather than
listed by hand, so a route, form or text column added later is covered without edits
here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import JSON, Enum, String, Text, select, update
from sqlalchemy.exc import DBAPIError

from shop.extensions import db
from tests import factories as f
from tests.conftest import sign_in
from tests.orders.conftest import new_order
from tests.training.conftest import paid_order, refund

ROOT = Path(__file__).resolve().parent.parent

# Markup a visitor could type into any field; a page showing one of these as it is
# would run the script or follow the redirect.
META = "<meta http-equiv=refresh content=0;url=//evil.example>"
SCRIPT = "<script>alert(1)</script>"
MARKUP = f'"><{META[1:]}{SCRIPT}'
SHORT_MARKUP = "<q x=1>"  # for columns too short for the rest
RAW_MARKERS = ("<meta http-equiv=refresh", "<script>alert(1)", "<q x=1>")

# Text columns that hold identifiers or values the store itself checks on the way in
# (a slug, code, token, address, currency), used in links and lookups, or that the store
# makes itself (a signed credential, a key): they never hold free text, so they keep their
# (valid) values. Any other text column gets markup.
IDENTIFIER_COLUMN = re.compile(
    r"(^|_)(slug|token|sku|email|currency|hash|filename|reference|key|id|gateway|kind|status|"
    r"method|purpose|role|ip|locale|jws|jwk)$|^(code|country_code|number)$"
)


def raw_markup_in(text: str) -> list[str]:
    return [marker for marker in RAW_MARKERS if marker in text]


# --- The store ---------------------------------------------------------------------------


@dataclass
class Store:
    values: dict  # path argument name -> a valid value
    by_endpoint: dict  # endpoint -> {argument -> value}, where a name means two things
    people: dict  # role -> User
    cart_variant_id: int
    extra: dict = field(default_factory=dict)


def build_store(with_markup: bool = False) -> Store:
    """One of everything: a vetted workshop with three consenting trainees, a product
    with two variants, batches, an image, a paid and refunded order owned by a customer,
    a shipped order, an unpaid order, a withdrawal, a goal and a proposed correction. Committed."""
    from shop.accounts.services import reset_token, verification_token
    from shop.training.models import WithdrawalPurpose
    from shop.training.services import add_goal, propose_correction, request_withdrawal

    name = MARKUP if with_markup else None
    w = f.workshop(**({"name": name, "story": name, "region": name} if name else {}))
    f.vet(w)
    p = f.product(
        w, variants=2, price=2000, **({"name": name, "description": name} if name else {})
    )
    trainees = [f.trainee(w, alias=f"Alias{i}", alias_consent=True) for i in range(3)]
    batch = f.batch(p.variants[0], quantity=30, makers=[(t, 1) for t in trainees])
    f.batch(p.variants[1], quantity=10, makers=[(trainees[0], 2)])
    people = {role: f.user(role) for role in ("customer", "admin", "staff")}
    paid = paid_order([(p.variants[0], 2)])
    paid.user_id = people["customer"].id
    refund(paid, {paid.lines[0].id: 500})
    shipped = paid_order([(p.variants[0], 1)])
    pending = new_order([(p.variants[1], 1)])
    withdrawal = request_withdrawal(
        trainee_id=trainees[0].id, amount=100, purpose=WithdrawalPurpose.MATERIALS,
        payee=name or "Supplier", details=name or "", requested_by=people["staff"],
    )  # fmt: skip
    goal = add_goal(trainee_id=trainees[0].id, title=name or "Course", target_amount=500,
                    target_date=None, currency="USD")  # fmt: skip
    # Proposed by another staff member, so the staff user sees its approve and reject forms.
    correction, _new = propose_correction(
        trainee_id=trainees[0].id, amount=-50, reason=name or "Counted twice",
        proposed_by=f.user("staff"), request_key="whole-store",
    )  # fmt: skip
    from shop.jobs.models import Job
    from shop.orders.notes import add_note

    add_note(paid, name or "Called the buyer about the address", people["admin"])
    dead_job = Job(kind="order_confirmation", payload={"order_id": paid.id}, status="dead",
                   attempts=10, last_error="SMTPServerDisconnected")  # fmt: skip
    db.session.add(dead_job)
    db.session.flush()
    if with_markup:
        mark_every_text_column()
    db.session.commit()
    image = p.images[0]
    from shop.training.models import LedgerAccount, Transfer, TransferKind

    credited = db.session.scalar(  # a credit of the first trainee: its receipt
        select(Transfer.id)
        .join(LedgerAccount, LedgerAccount.id == Transfer.credit_account_id)
        .where(LedgerAccount.trainee_id == trainees[0].id, Transfer.kind == TransferKind.SALE_SHARE)
        .order_by(Transfer.id)
        .limit(1)
    )
    values = {
        "order_id": paid.id, "variant_id": p.variants[0].id, "product_id": p.id,
        "image_id": image.id, "trainee_id": trainees[0].id, "withdrawal_id": withdrawal.id,
        "goal_id": goal.id, "workshop_id": w.id, "decision": "approve", "token": paid.token,
        "correction_id": correction.id, "job_id": dead_job.id,
        "code": batch.code, "slug": p.slug, "filename": image.filename, "batch_id": batch.id,
        "transfer_id": credited,
    }  # fmt: skip
    by_endpoint = {
        "provenance.workshop": {"slug": w.slug},
        "content.page": {"slug": "privacy"},
        "admin.edit_page": {"slug": "privacy"},
        "orders.pay": {"token": pending.token},
        "accounts.reset_password": {"token": reset_token(people["customer"])},
        "accounts.verify": {"token": verification_token(people["customer"])},
    }
    return Store(values, by_endpoint, people, p.variants[1].id,
                 extra={"shipped": shipped, "paid": paid, "pending": pending})  # fmt: skip


def _marked(value, length: int | None):
    if isinstance(value, dict):
        return {**dict.fromkeys(value, MARKUP), MARKUP: MARKUP}
    if isinstance(value, list):
        return [MARKUP, *value]
    if length is not None and length < len(MARKUP):
        return SHORT_MARKUP if length >= len(SHORT_MARKUP) else value
    return MARKUP


def mark_every_text_column() -> list[str]:
    """Put markup in every free-text column of every row (names, stories, options, alias,
    buyer's name and address, notes, payee...), read from the schema. Append-only tables
    (audit log, ledger) refuse updates; their text comes from the rows marked here."""
    marked = []
    for table in db.metadata.sorted_tables:
        columns = [
            c for c in table.columns
            if isinstance(c.type, String | Text | JSON) and not isinstance(c.type, Enum)
            and not c.primary_key and not c.foreign_keys and not c.unique
            and not IDENTIFIER_COLUMN.search(c.name)
        ]  # fmt: skip
        if not columns:
            continue
        pk = list(table.primary_key.columns)
        rows = db.session.execute(select(*pk, *columns)).all()
        try:
            with db.session.begin_nested():
                for row in rows:
                    changes = {
                        c.name: _marked(getattr(row, c.name), getattr(c.type, "length", None))
                        for c in columns
                    }
                    db.session.execute(
                        update(table)
                        .where(*(k == getattr(row, k.name) for k in pk))
                        .values(**changes)
                    )
        except DBAPIError:  # an append-only table's trigger: leave it as it is
            continue
        marked += [f"{table.name}.{c.name}" for c in columns]
    db.session.expire_all()
    return marked


# --- Clients, routes and forms --------------------------------------------------------


def clients(app, store: Store) -> dict:
    """role -> a test client signed in as that role (None: anonymous)."""
    result = {"anonymous": app.test_client()}
    for role, person in store.people.items():
        client = app.test_client()
        sign_in(client, person)
        client.person = person
        result[role] = client
    return result


def resign(client) -> None:
    """Sign the client in again (a crawled sign-out or password change may have ended
    its session), keeping the CSRF token it had."""
    person = getattr(client, "person", None)
    raw = getattr(client, "raw_csrf", None)
    if person is not None:
        sign_in(client, person)
    if raw:
        with client.session_transaction() as session:
            session["csrf_token"] = raw


def all_rules(app):
    """Every rule of the URL map with the methods a visitor can send, static files aside."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def path_for(rule, store: Store, **override) -> str:
    """The rule's path with its arguments filled: valid values unless overridden."""
    values = {**store.values, **store.by_endpoint.get(rule.endpoint, {}), **override}
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<[^>]*\b{name}>", quote(str(values.get(name, "x")), safe=""), path)
    return path


@dataclass
class RenderedForm:
    action: str
    method: str
    fields: dict[str, str]  # name -> the value the page put in it


class FormParser(HTMLParser):
    """Every form of a page with its fields' names and rendered values."""

    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: list[RenderedForm] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            action = urlsplit(a.get("action") or self.page_path).path
            self.forms.append(RenderedForm(action, (a.get("method") or "get").upper(), {}))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                self.forms[-1].fields.setdefault(a["name"], "")
            else:
                self.forms[-1].fields[a["name"]] = a.get("value") or ""
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self.forms[-1].fields[a["name"]] = ""
        elif tag == "option" and self._select:
            fields = self.forms[-1].fields
            if not fields[self._select] or "selected" in a:
                fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.forms[-1].fields[a["name"]] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1].fields[self._textarea] += data


def forms_on(page: str, page_path: str) -> list[RenderedForm]:
    parser = FormParser(page_path)
    parser.feed(page)
    return parser.forms


def form_class_fields() -> set[str]:
    """Every field name of every form class (with its prefix), for a route whose form no
    page rendered."""
    from flask_wtf import FlaskForm

    names, todo = set(), [FlaskForm]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        prefix = getattr(cls, "prefix", "") or ""
        prefix = prefix if not prefix or prefix[-1] in "-_;:/." else prefix + "-"
        for attr in dir(cls):
            if hasattr(getattr(cls, attr, None), "field_class"):
                names.add(prefix + attr)
    return names


def query_names() -> set[str]:
    """Every query-string parameter a view reads, found in the source."""
    source = "\n".join(p.read_text() for p in (ROOT / "shop").rglob("*.py"))
    return set(re.findall(r"""(?:args\.get|args\[|int_arg)\(?\s*["'](\w+)["']""", source)) | {
        "page"
    }


def csrf_token_of(page: str) -> str | None:
    match = re.search(r'name="[^"]*csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="[^"]*csrf_token"', page
    )
    return match.group(1) if match else None
