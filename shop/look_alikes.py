"""Text as a reader sees it, for rules that must not tell apart what nobody can: an alias
against a legal name (shop.provenance.trainees), a variant's options against its
siblings' (shop.catalog.admin_services). One folding, so both rules see the same."""

from __future__ import annotations

import unicodedata
from functools import cache

from confusable_homoglyphs import confusables


@cache
def latin_look_alike(char: str) -> str:
    """The Latin letter `char` is drawn like ('С' Cyrillic -> 'C'), from Unicode's
    confusables table as confusable_homoglyphs ships it; `char` itself when none. A small
    letter the table pairs only with a small capital ('т' with 'ᴛ') is read by its
    capital ('Т' -> 'T'): it is the same letter to a reader."""
    if char.isascii():
        return char
    for candidate, shape in ((char, str), (char.upper(), str.lower)):
        for glyph in confusables.confusables_data.get(candidate, ()):
            if glyph["c"].isascii() and glyph["c"].isalpha():
                return shape(glyph["c"])
    return char


def as_read(text: str) -> str:
    """`text` with what a reader cannot see folded away: invisible format characters
    (zero-width joiner), width and compatibility forms (NFKC), look-alikes of Latin
    letters from other scripts, and case. Letters of other scripts that look like no
    Latin letter (Khmer, Devanagari, Bengali...) are kept as they are."""
    text = "".join(c for c in str(text) if unicodedata.category(c) != "Cf")
    # Look-alikes before NFKC too: NFKC turns some ('ϲ', lunate sigma) into letters that
    # look like nothing Latin ('ς').
    for step in range(2):
        text = "".join(latin_look_alike(c) for c in text)
        text = unicodedata.normalize("NFKC", text) if step == 0 else text
    return text.casefold()
