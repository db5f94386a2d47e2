"""How a name is laid out in HTML: the one rule for where it may break across lines."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# A line may break after a hyphen, a dash or a slash inside a word ("T- / Shirt").
_BREAKS = "\\-\u2010-\u2014/"
INNER_BREAK = re.compile(f"[^\\s{_BREAKS}][{_BREAKS}]+[^\\s{_BREAKS}]")


def whole_words(text: str | None) -> Markup:
    """`text` escaped, each word with a hyphen, dash or slash in it ("Block-Print") in a
    `.word` span, which CSS keeps on one line where it fits: a name then breaks between
    words, and inside a word only where that word is wider than the line (the span is at
    most the line's width, and an over-long word breaks there: overflow-wrap)."""
    pieces = re.split(r"(\s+)", str(text or ""))
    return Markup("").join(
        Markup('<span class="word">{}</span>').format(piece)
        if INNER_BREAK.search(piece)
        else escape(piece)
        for piece in pieces
    )
