"""Finds text shown to people that is not marked for translation.

Templates: the text between tags and the attributes people read or hear (alt, title,
placeholder, aria-label, a button's value, a description meta tag), once every Jinja tag
and every `{% trans %}` block is taken out, plus string constants in Jinja expressions
that read as words ('Sign in', not 'catalog.products'). Emails' .txt templates: all of
their text. Python: string literals in the places that reach a page: flash(), error
pages, form labels and messages, the store's own errors (raised with a message that a
view shows), CSV headers and the label dictionaries of enums. What stays English on
purpose (brand names, codes, units) is in ALLOWED.

`python -m tests.i18n.unmarked [paths]` lists what it finds, a line each.
"""

from __future__ import annotations

import ast
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment, nodes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CODE = ROOT / "shop"

# Words that are the same in every language of the store: names of things, not copy.
ALLOWED = {
    "Made Known",
    "Stripe",
    "Stripe.js",
    "UNTP",
    "JSON",
    "JSON-LD",
    "CSV",
    "SVG",
    "QR",
    "API",
    "OpenAPI",
    "DID",
    "GS1",
    "GTIN",
    "SKU",
    "ISO",
    "USD",
    "KHR",
    "INR",
    "URL",
    "PDF",
    "RFC",
    "C2SP",
    "Ed25519",
    "SHA-256",
    "HTTP",
    "HTTPS",
    "ID",
    "OK",
    "VC",
    "JWT",
    "openapi.json",
    "English",
    "ខ្មែរ",
    "हिन्दी",
    "বাংলা",
    "did:web",
    "Bitstring",
    "Merkle",
    "USD$",
}
# Jinja constants shown as they are: words a command prints, quoted on a page.
KEPT_CONSTANTS = {"Valid"}  # `flask passport verify`'s last line (verification/verify.html)
# Python modules whose words are for operators at a terminal or for machines, not for
# the store's pages (commands print English; the API answers in its documented English).
PYTHON_NOT_SHOWN = (
    "cli.py",
    "demo/",
    "catalogs.py",
    "config.py",
    "/cli.py",
    "api/",
    "bench/",
    "transparency/verify_log.py",  # tools/verify_log.py: a standalone verifier, English
    # `flask passport verify` prints these; the /verify page shows none of them.
    "verification/checks.py",
    "verification/fetch.py",
    "verification/jose.py",
    "verification/status_list.py",
    # The transparency log's answers are for verifier programs (JSON and plain text).
    "transparency/proofs.py",
    "transparency/views.py",
)
# A comment on a message's line that says no person reads it (an invariant broken, a
# readiness probe's reason), so it stays English.
NOT_SHOWN_MARK = "# not shown:"
# Functions and classes whose string arguments are shown to people.
SHOWN_CALLS = {"flash", "error_answer", "abort", "ValidationError", "StopValidation"}
SHOWN_KEYWORDS = {
    "message",
    "label",
    "description",
    "title",
    "placeholder",
    "too_low",
    "hint",
    "invalid_choice_message",
    "invalid_value_message",
}
NOT_SHOWN_ERRORS = {
    "ValueError",
    "TypeError",
    "KeyError",
    "RuntimeError",
    "AssertionError",
    "LookupError",
    "NotImplementedError",
    "AttributeError",
    "IndexError",
    "OSError",
    "PermissionError",
    "ConfigError",
    "SystemExit",
    "ImportError",
    "ClickException",
    "UsageError",
    "BadParameter",
}
GETTEXT = {"_", "gettext", "ngettext", "lazy_gettext", "lazy_ngettext", "pgettext",
           "npgettext", "lazy_pgettext", "_l", "_n"}  # fmt: skip
# Code, commands and their output are shown as they run, in no language.
CODE_TAGS = {"script", "style", "code", "pre", "kbd", "samp"}
READ_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "aria-description", "label"}
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def words_left(text: str) -> str:
    """The text less its placeholders, allowed names, and anything that is not a word."""
    text = text.replace("\x00", " ")
    for name in sorted(ALLOWED, key=len, reverse=True):
        text = text.replace(name, " ")
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    text = re.sub(r"(?<![\w/])/[\w\-./]*", " ", text)  # a path on the store, like /pages/
    text = re.sub(r"[\w\-]+=\"[^\"]*\"", " ", text)  # attributes a macro writes into a tag
    return text.strip() if LETTER.search(text) else ""


# --- Templates ------------------------------------------------------------------------

_TRANS = re.compile(r"{%-?\s*(?:trans|pluralize)\b.*?{%-?\s*endtrans\s*-?%}", re.S)
_STATEMENT = re.compile(r"{%.*?%}|{#.*?#}", re.S)
_EXPRESSION = re.compile(r"{{.*?}}", re.S)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in CODE_TAGS:
            self._skip += 1
        values = dict(attrs)
        for name, value in attrs:
            shown = name in READ_ATTRIBUTES or (
                name == "value" and values.get("type") in ("submit", "button")
            )
            if name == "content" and values.get("name") == "description":
                shown = True
            if shown and value and (left := words_left(value)):
                self.found.append((self.getpos()[0], left))

    def handle_endtag(self, tag):
        if tag in CODE_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and (left := words_left(data)):
            self.found.append((self.getpos()[0], left))


def _blank_tags(source: str) -> str:
    """Trans blocks and expressions replaced by a NUL each, statements and comments by
    nothing (so `<td{% if bad %} class="x"{% endif %}>` stays one tag), lines kept."""

    def keep_lines(mark: str):
        return lambda match: mark + "\n" * match.group(0).count("\n")

    source = re.sub(r"(</?){{.*?}}", r"\1x", source)  # a tag named by a variable
    source = _TRANS.sub(keep_lines("\x00"), source)
    source = _STATEMENT.sub(keep_lines(""), source)
    return _EXPRESSION.sub(keep_lines("\x00"), source)


_ENV = Environment(extensions=["jinja2.ext.i18n"])  # noqa: S701 (parsed, never rendered)
# As Flask-Babel installs it: a trans tag's arguments (a command, a file name put into a
# sentence) are the gettext call's, inserted as they are.
_ENV.newstyle_gettext = True  # type: ignore[attr-defined]
_NOT_WORDS = re.compile(r"[\w.\-/:#%@?=&\[\]{}()*,;|\"']+")  # endpoint names, classes, formats
_NO_WORDS_CALLS = {"url_for", "site_url", "public_url", "format", "format_date", "include",
                   "get", "startswith", "endswith", "replace", "split", "join", "strftime"}  # fmt: skip
_CAPITALISED = re.compile(r"[A-Z][a-z]+(?:[ '’][A-Za-z]+)*[.!?]?")


def _looks_like_words(value: str) -> bool:
    value = value.strip()
    if not words_left(value):
        return False
    if " " in value:
        return not _NOT_WORDS.fullmatch(value.replace(" ", "")) or bool(
            re.search(r"[a-z] [a-z]", value, re.I)
        )
    return bool(_CAPITALISED.fullmatch(value))


def _expression_strings(source: str) -> list[tuple[int, str]]:
    found = []

    def walk(node: nodes.Node, quiet: bool) -> None:
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            quiet = quiet or node.node.name in GETTEXT or node.node.name in _NO_WORDS_CALLS
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            quiet = quiet or node.node.attr in _NO_WORDS_CALLS
        if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            return
        if isinstance(node, nodes.Compare):  # `e.address == 'command line'`: a value
            return
        text = node.value if isinstance(node, nodes.Const) else None
        shown = isinstance(text, str) and text not in KEPT_CONSTANTS
        if shown and not quiet and _looks_like_words(text):
            found.append((node.lineno, text.strip()))
        for child in node.iter_child_nodes():
            walk(child, quiet)

    walk(_ENV.parse(source), False)
    return found


def template_problems(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    where = path.relative_to(ROOT)
    blanked = _blank_tags(source)
    if path.suffix == ".txt":
        found = [
            (number, left)
            for number, line in enumerate(blanked.splitlines(), 1)
            if (left := words_left(line))
        ]
    else:
        parser = _Text()
        parser.feed(blanked)
        parser.close()
        found = parser.found
    found += _expression_strings(source)
    return [f"{where}:{line}: {text[:80]!r}" for line, text in sorted(set(found))]


def template_paths() -> list[Path]:
    return sorted(path for path in TEMPLATES.rglob("*") if path.suffix in (".html", ".txt", ".svg"))


# --- Python ---------------------------------------------------------------------------


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "\x00" for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        left, right = _text(node.left), _text(node.right)
        return None if left is None and right is None else f"{left or ''}{right or ''}"
    return None


def _shown_arguments(call: ast.Call) -> list[ast.expr]:
    name = _name(call.func)
    shown: list[ast.expr] = []
    if name in SHOWN_CALLS:
        shown += call.args[:1] if name not in ("error_answer", "abort") else call.args[1:3]
    elif name.endswith(("Error", "Refusal", "Problem", "Refused")) and name not in NOT_SHOWN_ERRORS:
        shown += call.args[:1]
    elif name.endswith("Field") or name in ("required", "at_most", "SelectChoice", "Label"):
        shown += call.args[:2] if name == "SelectChoice" else call.args[:1]
        if name == "SelectChoice":
            shown = call.args[1:2]
    elif name == "csv_response" and len(call.args) > 1 and isinstance(call.args[1], ast.List):
        shown += call.args[1].elts
    shown += [kw.value for kw in call.keywords if kw.arg in SHOWN_KEYWORDS]
    return shown


def python_problems(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines()
    where = path.relative_to(ROOT)
    found = []
    for node in ast.walk(tree):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Call) and _name(node.func) not in GETTEXT:
            candidates = _shown_arguments(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [_name(t) if not isinstance(t, ast.Name) else t.id for t in targets]
            if any(
                n.endswith(("LABELS", "MESSAGES", "TITLES", "HEADER", "HEADERS")) for n in names
            ):
                value = node.value
                if isinstance(value, ast.Dict):
                    candidates = list(value.values)
                elif isinstance(value, ast.List | ast.Tuple):
                    candidates = list(value.elts)
        for candidate in candidates:
            span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
            if any(NOT_SHOWN_MARK in line for line in span):
                continue
            text = _text(candidate)
            if (text is not None and words_left(text) and " " in text.strip()) or (
                text is not None and _CAPITALISED.fullmatch(text.strip())
            ):
                found.append(f"{where}:{candidate.lineno}: {text.strip()[:80]!r}")
    return found


def python_paths() -> list[Path]:
    return sorted(
        path
        for path in CODE.rglob("*.py")
        if not any(part in path.relative_to(ROOT).as_posix() for part in PYTHON_NOT_SHOWN)
    )


def problems(paths: list[Path] | None = None) -> list[str]:
    found = []
    for path in template_paths() + python_paths():
        if paths and not any(str(path).startswith(str(p.resolve())) for p in paths):
            continue
        found += template_problems(path) if path.suffix != ".py" else python_problems(path)
    return found


if __name__ == "__main__":
    wanted = [Path(arg) for arg in sys.argv[1:]]
    listed = problems(wanted)
    print("\n".join(listed))
    print(f"{len(listed)} unmarked", file=sys.stderr)
