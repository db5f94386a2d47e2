"""Text a person types on one line (a name, a street, a city): it may hold any letter of
any script, but no control character (a bell, a tab, a line break) and no character that
reorders what follows it (U+202E RIGHT-TO-LEFT OVERRIDE would print "Zoë 李 evil" as
"live 李 ëoZ" on the packing slip and in the order list). Directional marks that only
help a right-to-left name display (U+200E, U+200F) are allowed."""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _
from wtforms.validators import ValidationError

# Embeddings, overrides and isolates (Unicode's bidirectional formatting characters).
REORDERING = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unprintable(text: str) -> str | None:
    """The first character of `text` that has no place in one typed line, or None."""
    for char in text:
        if char in REORDERING or unicodedata.category(char) == "Cc":
            return char
    return None


class OneLine:
    """A WTForms validator: the field is one line of plain text."""

    def __init__(self, label: str):
        self.label = label

    def __call__(self, form, field) -> None:
        char = unprintable(field.data or "")
        if char is not None:
            raise ValidationError(
                _("%(field)s has a character that cannot be printed "
                  "(U+%(code)s, a control or direction character): type it again",
                  field=str(self.label), code=f"{ord(char):04X}")
            )  # fmt: skip
