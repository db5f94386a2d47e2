"""The Khmer, Hindi and Bengali catalogs are complete and sound: every message the code
and templates mark is translated (none missing, none empty, none fuzzy), each
translation keeps the English's placeholders and markup, and plurals have the forms CLDR
gives each language (Khmer one, Hindi and Bengali two). And nothing people read is left
unmarked (tests/i18n/unmarked.py)."""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from tests.i18n import unmarked

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("km", "hi", "bn")
# The keywords `make translations` extracts with, read from the Makefile: one list.
KEYWORDS = (
    re.search(r"^BABEL_KEYWORDS := (.*?)(?<!\\)$", (ROOT / "Makefile").read_text(), re.M | re.S)
    .group(1)
    .replace("\\\n", " ")
    .split()
)
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdirfx%])")
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")


@cache
def extracted(tmp_root: str) -> Catalog:
    """What `make translations` would extract now (the committed .pot may be older)."""
    target = Path(tmp_root) / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
         *KEYWORDS, "-o", str(target), "."],
        cwd=ROOT, check=True,
    )  # fmt: skip
    with target.open("rb") as handle:
        return read_po(handle)


@cache
def catalog(language: str) -> Catalog:
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def placeholders(text: str) -> Counter:
    return Counter(
        f"%({name}){kind}" if name else f"%{kind}"
        for name, kind in PLACEHOLDER.findall(text)
        if kind != "%"
    )


def tags(text: str) -> Counter:
    return Counter(match.group(0) if "%(" in match.group(0) else match.group(1)
                   for match in TAG.finditer(text))  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Catalog:
    return extracted(str(tmp_path_factory.mktemp("pot")))


def _key(message) -> tuple:
    return (message.id, message.context)


def test_nothing_people_read_is_left_unmarked():
    assert unmarked.problems() == []


def test_plural_messages_name_the_count_in_both_english_forms(source):
    # A Hindi or Bengali "one" form also serves 0 (CLDR: i = 0 or n = 1), so a plural
    # message must carry its count in the singular too ("%(num)d maker").
    for message in source:
        if message.pluralizable:
            singular, plural = message.id
            assert placeholders(singular) == placeholders(plural), message.id


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_plural_forms_are_cldrs(language):
    """The catalog's Plural-Forms picks, for every count, the form CLDR names: Khmer has
    only "other"; Hindi and Bengali say "one" for 0 and 1 (gettext's usual n != 1 would
    put 0 in the plural)."""
    rule = Locale.parse(language).plural_form
    forms = ["one", "other"] if "one" in rule.tags else ["other"]
    header = catalog(language).plural_forms
    expression = header.split("plural=", 1)[1].rstrip(";")
    pick = gettext.c2py(expression)
    assert catalog(language).num_plurals == len(forms)
    for count in range(0, 2001):
        assert forms[pick(count)] == rule(count), (language, count, header)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language, source):
    translated = catalog(language)
    missing, empty, fuzzy = [], [], []
    for message in source:
        if not message.id:
            continue
        found = translated.get(*_key(message))
        if found is None:
            missing.append(message.id)
            continue
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if not all(s and s.strip() for s in strings):
            empty.append(message.id)
        if found.fuzzy:
            fuzzy.append(message.id)
    assert not missing, f"{len(missing)} messages missing in {language}: {missing[:5]}"
    assert not empty, f"{len(empty)} messages untranslated in {language}: {empty[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy messages in {language}: {fuzzy[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_and_markup(language):
    wrong = []
    forms = catalog(language).num_plurals
    for message in catalog(language):
        if not message.id or not message.string:
            continue
        if message.pluralizable:
            singular, plural = message.id
            strings = message.string
            english = [singular if index == 0 and forms > 1 else plural for index in range(forms)]
            if len(strings) != forms:
                wrong.append((message.id, f"{len(strings)} forms, not {forms}"))
                continue
        else:
            strings, english = (message.string,), (message.id,)
        for text, original in zip(strings, english, strict=True):
            if placeholders(text) != placeholders(original):
                wrong.append((message.id, f"placeholders {dict(placeholders(text))}"))
            if tags(text) != tags(original):
                wrong.append((message.id, f"markup {dict(tags(text))}"))
    assert not wrong, f"{len(wrong)} in {language}: {wrong[:5]}"


_TRANS_BLOCK = re.compile(r"{%-?\s*trans\b([^%]*)%}(.*?){%-?\s*endtrans\s*-?%}", re.S)
_PLURALIZE = re.compile(r"{%-?\s*pluralize\s*(\w*)\s*-?%}")


def test_every_plural_block_counts_by_its_number():
    """Jinja counts a {% trans %} block's plural by its FIRST variable unless pluralize
    names one: `{% trans url=link, count=minutes %}` counted by the link, which English
    never shows (it picks by n != 1 on a string) and Khmer, Hindi and Bengali fail on."""
    wrong = []
    for path in unmarked.template_paths():
        for block in _TRANS_BLOCK.finditer(path.read_text(encoding="utf-8")):
            pluralize = _PLURALIZE.search(block.group(2))
            if not pluralize or pluralize.group(1):
                continue
            names = re.findall(r"(\w+)\s*=(?!=)", block.group(1))
            if names and names[0] != "count":
                wrong.append(f"{path.relative_to(ROOT)}: counted by {names[0]}")
    assert wrong == []
