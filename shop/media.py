"""Where images live: a folder on this machine, or an S3 bucket that every machine shares.

MEDIA_STORAGE chooses: `local` (the default, files under MEDIA_ROOT) or `s3` (S3_BUCKET at
S3_ENDPOINT_URL, with S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY). Pages link to images on
MEDIA_BASE_URL (the bucket, or a CDN in front of it); without it, the store serves them
itself at /media/, from whichever store holds them.

Keys are names the store made from the content's hash (shop/catalog/images.py), so what
is stored under a name never changes: browsers and CDNs may keep it for a year.

A bucket that does not answer (refused, timed out) opens its breaker (shop.breaker): until
the cool-down ends every call fails at once with MediaUnavailable, which pages answer
with 503 and Retry-After, instead of holding a web thread for its timeouts each time.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import quote, urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    request,
    send_from_directory,
)
from flask_babel import gettext as _
from werkzeug.security import safe_join

from shop.breaker import Breaker, DependencyDown, breaker, server_name
from shop.config import ConfigError

log = logging.getLogger(__name__)

STORAGES = ("local", "s3")
MEDIA_PATH = "/media/"  # the store's own route for images (shop/web.py)
CACHE_FOREVER = "public, max-age=31536000, immutable"
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
# Names made from a content hash (and a width, for a resized copy): never rewritten.
# `picture` is what an original and its copies share (shop/catalog/image_objects.py).
CONTENT_KEY = re.compile(r"(?P<picture>products/[0-9a-f]{32})(?:-[0-9]{1,5})?\.(?:jpg|png|webp)")
EXTENSION_KEY = "shop_media_storage"


class MediaError(RuntimeError):
    """The media store did not answer, or refused; the message is safe to show an admin."""


class MediaUnavailable(MediaError):
    """The media store does not answer (or is known down): try again in `retry_after` s."""

    def __init__(self, retry_after: int):
        super().__init__("the image store is not answering")
        self.retry_after = retry_after


def _reason(exc: Exception) -> str:
    """What went wrong, for the log: the S3 error code, or the kind of failure."""
    # A timeout carries a `response` too, of None: only S3's own answers are dicts.
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


def _raise(error: OSError) -> None:
    # os.walk skips what it cannot read unless told: a listing that silently left out
    # a folder would look complete. A folder removed while walked is simply gone.
    if not isinstance(error, FileNotFoundError):
        raise error


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


class StoredObject(NamedTuple):
    key: str
    modified: datetime  # aware, UTC: when the object was last written


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...  # a key already gone is no error
    def list_keys(self, prefix: str) -> Iterator[StoredObject]: ...
    def ready(self) -> bool: ...


class LocalStorage:
    """Files under one folder: for `make run`, or one machine."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        joined = safe_join(str(self.root), key)
        if joined is None:
            raise MediaError(_("that is not a name the store gave an image"))
        return Path(joined)

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a reader never sees half a file.
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except OSError as exc:
            raise MediaError(_("the media folder could not be written")) from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MediaError(_("the media folder could not be read")) from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise MediaError(_("the media folder could not be written")) from exc

    def list_keys(self, prefix: str) -> Iterator[StoredObject]:
        """Every file under `prefix` (a folder), with its modification time."""
        top = self.path(prefix)
        if not top.is_dir():
            return  # nothing was ever stored there
        try:
            for folder, _dirs, files in os.walk(top, onerror=_raise):
                for name in files:
                    path = Path(folder) / name
                    try:
                        modified = path.stat().st_mtime
                    except FileNotFoundError:  # removed while we looked
                        continue
                    key = path.relative_to(self.root).as_posix()
                    yield StoredObject(key, datetime.fromtimestamp(modified, UTC))
        except OSError as exc:
            raise MediaError(_("the media folder could not be read")) from exc

    def ready(self) -> bool:
        # Uploads write here: a read-only or full disk must take the machine out of rotation.
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".ready-") as probe:
                probe.write(b"ok")
                probe.flush()
        except OSError:
            return False
        return True


class S3Storage:
    """Objects in one bucket, through the S3 API: AWS, or any server that speaks it."""

    def __init__(self, bucket: str, *, endpoint_url: str | None, access_key_id: str | None,
                 secret_access_key: str | None, region: str | None,
                 guard: Breaker | None = None):  # fmt: skip
        self.bucket = bucket
        self.guard = guard  # the store's breaker
        settings = (endpoint_url, access_key_id, secret_access_key, region)
        # boto3 clients are thread-safe; one per app. A hung store must not hold a web
        # thread long: two tries of at most 2 s to connect and 5 s to answer, then the
        # caller answers 503, and the breaker spares the next callers the wait.
        self.client = _s3_client(*settings, timeouts=(2, 5), tries=2)
        # The readiness probe: one short try, so /readyz answers within a couple of seconds.
        self.probe = _s3_client(*settings, timeouts=(1, 1), tries=1)

    def _call(self, what: str, action):
        """`action()`, through the store's breaker: MediaUnavailable when the store does
        not answer (refused, timed out, cut off) or is known down; MediaError for any
        other failure (an answer refusing a key or a bucket, a bad setting)."""
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as NoConnection

        down = (NoConnection, HTTPClientError)
        try:
            if self.guard is None:
                return action()
            return self.guard.call(action, down)
        except DependencyDown as exc:
            if exc.__cause__ is not None:  # this call found it down (once per outage)
                log.warning("media store: %s failed: %s", what, _reason(exc.__cause__))
            raise MediaUnavailable(exc.retry_after) from exc
        except down as exc:  # no breaker (a store built without an app)
            log.warning("media store: %s failed: %s", what, _reason(exc))
            raise MediaUnavailable(1) from exc
        except (BotoCoreError, ClientError) as exc:
            log.warning("media store: %s failed: %s", what, _reason(exc))
            raise MediaError(_("the image store could not be reached")) from exc

    def put(self, key: str, data: bytes) -> None:
        self._call("put", lambda: self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data,
            ContentType=content_type(key), CacheControl=CACHE_FOREVER,
        ))  # fmt: skip

    def get(self, key: str) -> bytes | None:
        def get_or_none() -> bytes | None:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except self.client.exceptions.NoSuchKey:
                return None

        return self._call("get", get_or_none)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        def head() -> bool:
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True

        return self._call("head", head)

    def delete(self, key: str) -> None:
        self._call("delete", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    def list_keys(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with `prefix`, a page of 1000 at a time."""
        pages = iter(self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ))  # fmt: skip
        while (page := self._call("list", lambda: next(pages, None))) is not None:
            for found in page.get("Contents", []):
                yield StoredObject(found["Key"], found["LastModified"].astimezone(UTC))

    def ready(self) -> bool:
        try:
            self._call("head bucket", lambda: self.probe.head_bucket(Bucket=self.bucket))
        except MediaError:
            return False
        return True


def _s3_client(endpoint_url, access_key_id, secret_access_key, region, *, timeouts, tries):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        region_name=region or "us-east-1",
        config=Config(
            connect_timeout=timeouts[0],
            read_timeout=timeouts[1],
            # total_max_attempts counts the first try; botocore's max_attempts would not.
            retries={"total_max_attempts": tries, "mode": "standard"},
            # Servers other than AWS (SeaweedFS, MinIO) answer on paths, not subdomains.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        ),
    )


def build_storage(config, guard: Breaker | None = None) -> Storage:
    """The store MEDIA_STORAGE names (a bucket called through `guard`, its server's
    breaker); raises ConfigError saying what is missing."""
    kind = (config.get("MEDIA_STORAGE") or "local").strip().lower()
    if kind not in STORAGES:
        raise ConfigError(f"MEDIA_STORAGE must be one of {', '.join(STORAGES)}; got {kind!r}")
    if kind == "local":
        return LocalStorage(config["MEDIA_ROOT"])
    if not config.get("S3_BUCKET"):
        raise ConfigError("MEDIA_STORAGE=s3 needs S3_BUCKET (and S3_ENDPOINT_URL unless on AWS)")
    return S3Storage(
        config["S3_BUCKET"],
        endpoint_url=config.get("S3_ENDPOINT_URL"),
        access_key_id=config.get("S3_ACCESS_KEY_ID"),
        secret_access_key=config.get("S3_SECRET_ACCESS_KEY"),
        region=config.get("S3_REGION"),
        guard=guard,
    )


def media_base_url(config) -> str:
    base = (config.get("MEDIA_BASE_URL") or "").strip().rstrip("/")
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ConfigError(
                "MEDIA_BASE_URL must be where images are served from, like "
                f"https://cdn.example.org/media; got {base!r}"
            )
    return base


def init_media(app: Flask) -> None:
    """Choose the store from the settings; raises ConfigError for a bad setting."""
    app.config["MEDIA_BASE_URL"] = media_base_url(app.config)
    endpoint = app.config.get("S3_ENDPOINT_URL") or "https://s3.amazonaws.com"
    guard = breaker(app, server_name("object store", endpoint, 443))
    app.extensions[EXTENSION_KEY] = build_storage(app.config, guard)
    app.add_template_global(media_url)
    from shop import readiness

    readiness.register_check(app, "media", check_media_store)  # the bucket, or the folder


def media_storage() -> Storage:
    return current_app.extensions[EXTENSION_KEY]


def media_prefix() -> str:
    """What a key is appended to for a browser to fetch it: MEDIA_BASE_URL, else the
    store's own /media/. (A listing links a hundred copies: no url_for for each.)"""
    base = current_app.config.get("MEDIA_BASE_URL")
    if base:
        return f"{base}/"
    return f"{request.script_root if has_request_context() else ''}{MEDIA_PATH}"


def media_url(key: str, prefix: str | None = None) -> str:
    return f"{media_prefix() if prefix is None else prefix}{quote(key)}"


def media_ready() -> bool:
    """For /readyz: the bucket answers (head_bucket), or the local folder is writable."""
    try:
        return media_storage().ready()
    except Exception:  # a readiness probe reports any failure as not ready
        log.exception("media store: readiness check failed")
        return False


def check_media_store() -> None:
    """media_ready() as a readiness check that raises when the store does not answer
    (shop.readiness.register_check(app, "media", check_media_store))."""
    if not media_ready():
        raise MediaError(
            "the media store is not ready"
        )  # not shown: a readiness probe's reason, for operators


def serve_media(filename: str) -> Response:
    """/media/: images, when no MEDIA_BASE_URL serves them; from the folder, or fetched
    from the bucket. A content-hashed name never changes what it holds: kept a year."""
    storage = media_storage()
    forever = bool(CONTENT_KEY.fullmatch(filename))
    if isinstance(storage, LocalStorage):
        # send_from_directory refuses paths that leave MEDIA_ROOT.
        response = send_from_directory(storage.root, filename, max_age=86_400)
    else:
        try:
            # Only names the store made: a bucket shared with anything else stays private.
            data = storage.get(filename) if forever else None
        except MediaError as exc:
            retry = exc.retry_after if isinstance(exc, MediaUnavailable) else 60
            return Response("The image store is not answering.\n", 503, mimetype="text/plain",
                            headers={"Retry-After": str(retry)})  # fmt: skip
        if data is None:
            abort(404)
        response = Response(data, mimetype=content_type(filename))
    if forever:
        response.headers["Cache-Control"] = CACHE_FOREVER
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
