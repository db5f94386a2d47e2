"""Reading what a verifier is given (a file, a URL, standard input) and what it finds on
the web (DID documents, status lists), with messages that say what went wrong.

HTTPS only, unless the operator allows plain HTTP (`--http`, for a store in development
or tests); a redirect to plain HTTP is refused the same way. Bodies are bounded."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10
MAX_BYTES = 5 * 1024 * 1024  # a status list is 16 kB compressed; a passport a few kB
USER_AGENT = "made-known-passport-verify/1"


class VerifyInputError(Exception):
    """Something the verifier was given or sent to cannot be read; the message says why."""


@dataclass(frozen=True)
class Fetched:
    url: str  # where it came from in the end (after redirects)
    body: bytes
    media_type: str  # the Content-Type without its parameters, lower case ("" if none)


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def _check_scheme(url: str, allow_http: bool) -> None:
    scheme = urlsplit(url).scheme
    if scheme == "http" and not allow_http:
        raise VerifyInputError(
            f"{url} is plain HTTP: a verifier reads credentials over HTTPS "
            "(pass --http to allow it for a store in development)"
        )
    if scheme not in ("http", "https"):
        raise VerifyInputError(f"{url} is not a web address (https://…)")


class _Redirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_http: bool):
        self.allow_http = allow_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _check_scheme(newurl, self.allow_http)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _said(exc: urllib.error.HTTPError) -> str:
    """What a refusal in plain text says (the store's 410 says why a version was withdrawn
    and where the current one is): its first line, printable characters only."""
    if exc.headers is None or exc.headers.get_content_type() != "text/plain":
        return ""
    try:
        text = exc.read(2000).decode("utf-8", "replace")
    except OSError:
        return ""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = "".join(c for c in first if c.isprintable())[:300]
    return f": {first}" if first else ""


def fetch(url: str, *, allow_http: bool, accept: str) -> Fetched:
    _check_scheme(url, allow_http)
    # http(s) only: _check_scheme refused anything else (file:, ftp:) just above.
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": USER_AGENT})  # noqa: S310
    opener = urllib.request.build_opener(_Redirects(allow_http))
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(MAX_BYTES + 1)
            final = response.geturl()
            media_type = response.headers.get_content_type() if response.headers else ""
    except urllib.error.HTTPError as exc:
        raise VerifyInputError(f"{url} answered {exc.code} {exc.reason}{_said(exc)}") from None
    except TimeoutError:
        raise VerifyInputError(f"{url} did not answer within {TIMEOUT_SECONDS} s") from None
    except urllib.error.URLError as exc:
        raise VerifyInputError(f"cannot reach {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise VerifyInputError(f"cannot read {url}: {exc}") from None
    if len(body) > MAX_BYTES:
        raise VerifyInputError(f"{url} sent more than {MAX_BYTES // 1024 // 1024} MB")
    return Fetched(final, body, (media_type or "").lower())


def read_file(path: str) -> bytes:
    """A file's bytes, or standard input's for "-"."""
    if path == "-":
        return sys.stdin.buffer.read(MAX_BYTES + 1)
    file = Path(path)
    if not file.is_file():
        raise VerifyInputError(
            f"{path}: no such file (give a file, a URL, or - for standard input)"
        )
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise VerifyInputError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        raise VerifyInputError(f"{path} is larger than {MAX_BYTES // 1024 // 1024} MB")
    return data


def text_of(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise VerifyInputError(f"{where} is not text (UTF-8)") from None
