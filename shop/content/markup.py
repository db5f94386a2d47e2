"""The text of a content page: a small, safe subset of Markdown, never HTML.

Admins write paragraphs, `##` headings, lists, *emphasis* and links; whatever else they
type is shown as typed. Rendered with markdown-it-py (the CommonMark parser Jupyter and
MyST use, maintained by the Executable Books project), in its "zero" preset with only
those rules turned on and raw HTML off: markup typed into the form (`<script>`,
`<img onerror=…>`, an HTML comment) is escaped as text, never passed through. Why a
parser that escapes rather than a sanitiser (bleach, nh3) run over HTML: nothing in the
form is ever HTML, so there is nothing to clean, only text to escape, and the parser's
own output is the only markup on the page. Links are allowed to http(s), mailto and the
store's own paths only (markdown-it's default refuses javascript:, data: and a few
others; an allow-list also keeps out schemes nobody thought of).
"""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

# https://…, http://…, mailto:…, or a path of this site ("/pages/returns"): never "//host"
# or "/\host", which browsers read as another site.
SAFE_LINK = re.compile(r"^(?:https?://|mailto:|/(?![/\\])|#)", re.IGNORECASE)
BLOCK_RULES = ["heading", "list", "paragraph"]
INLINE_RULES = ["newline", "escape", "emphasis", "link", "autolink", "entity"]


def _page_headings(state) -> None:
    """The page's title is its only h1: a `#` heading in the text becomes an h2."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close") and token.tag == "h1":
            token.tag = "h2"


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False})
    md.enable(BLOCK_RULES).enable(INLINE_RULES)
    md.validateLink = lambda url: bool(SAFE_LINK.match(url))
    md.core.ruler.push("page_headings", _page_headings)
    return md


def render(text: str) -> Markup:
    """The page's HTML: safe to put in a template as it is."""
    return Markup(_parser().render(text or ""))  # noqa: S704 (escaped by the parser)


def tokens(text: str) -> list[Token]:
    return _parser().parse(text or "")
