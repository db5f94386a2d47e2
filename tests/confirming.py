"""Pressing a back-office button that moves money as a person does: it opens the
confirmation page (shop/confirmations.py), and its button is pressed."""

from __future__ import annotations

import html
import re

FORM_RE = re.compile(
    r'<form class="confirm-actions" method="post" action="([^"]+)">(.*?)</form>', re.S
)
HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def confirmation_form(page) -> tuple[str, dict[str, str]] | None:
    """The confirmation page's (action, hidden fields), or None if `page` is not one."""
    found = FORM_RE.search(page.get_data(as_text=True))
    if found is None:
        return None
    fields = {name: html.unescape(value) for name, value in HIDDEN_RE.findall(found.group(2))}
    return html.unescape(found.group(1)), fields


def confirmed(client, url: str, data: dict | None = None, **kwargs):
    """Open the confirmation page (GET `url`, or POST `data` to it), then press its button.
    Returns the button's answer, or the first answer when it was no confirmation page
    (a refused form, a redirect)."""
    page = client.get(url) if data is None else client.post(url, data=data)
    form = confirmation_form(page) if page.status_code == 200 else None
    if form is None:
        if kwargs.get("follow_redirects") and page.status_code in (301, 302, 303):
            return client.get(page.headers["Location"])
        return page
    action, fields = form
    return client.post(action, data=fields, **kwargs)
