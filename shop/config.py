"""Settings, read from environment variables with safe defaults.

`load_config(instance_path)` is the only place that reads the environment, so a
test can build an app from a plain mapping instead (see `TestConfig`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path
from urllib.parse import urlsplit

DEVELOPMENT = "development"  # SHOP_ENV of `make run`; anything else is a real deployment
GATEWAYS = ("dummy", "stripe")
DEFAULT_CURRENCY = "USD"
DEFAULT_WITHDRAWAL_CURRENCIES = "KHR,INR"
# code:label:price in cents, comma separated
DEFAULT_SHIPPING_RATES = (
    "standard:Standard post (7 to 14 days):800,express:Express courier (3 to 5 days):2500"
)


class ConfigError(RuntimeError):
    """A setting the store refuses to start with; the message says what to set."""


# Together they bound what one address can keep off sale without paying: about
# 10 orders an hour x 10 units x a 15-minute hold = some 25 units at any moment.
DEFAULT_MAX_UNITS_PER_ORDER = 10
DEFAULT_MAX_HELD_UNITS_PER_SESSION = 20
# Sessions are free to make (drop the cookie), so one address holds at most this many
# units at once, whatever its sessions; above one session's cap, as an address may be shared.
DEFAULT_MAX_HELD_UNITS_PER_ADDRESS = 30
# Orders placed (not attempts refused); an address may be shared (an office, a campus).
DEFAULT_CHECKOUT_LIMIT_PER_ADDRESS = "10 per hour"
DEFAULT_CHECKOUT_LIMIT_PER_SESSION = "5 per hour"
DEFAULT_API_RATE_LIMIT = "120 per minute"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> list[str] | None:
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one kept in the instance folder.

    Generating a key once and keeping it means a development store keeps its
    sessions across restarts without anyone having to invent a secret.
    """
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(instance_path: str | os.PathLike) -> dict:
    instance = Path(instance_path)
    default_db = f"sqlite:///{instance / 'shop.db'}"
    environment = os.environ.get("SHOP_ENV", "development")
    stripe_key = os.environ.get("STRIPE_SECRET_KEY", "")
    # Outside development the dummy gateway is never a silent default: an empty choice
    # makes check_deployment() refuse to start (see there).
    default_gateway = "stripe" if stripe_key else ("dummy" if environment == DEVELOPMENT else "")
    return {
        "ENV_NAME": environment,
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            os.environ.get("DATABASE_URL", default_db)
        ),
        "STORE_NAME": os.environ.get("STORE_NAME", "Made Known"),
        "STORE_CURRENCY": os.environ.get("STORE_CURRENCY", DEFAULT_CURRENCY).upper(),
        "STORE_LOCALE": os.environ.get("STORE_LOCALE", "en_US"),
        # Currencies a withdrawal may be paid in besides the account's own (comma separated):
        # the schools' and suppliers' (shop/training/exchange.py).
        "WITHDRAWAL_CURRENCIES": os.environ.get(
            "WITHDRAWAL_CURRENCIES", DEFAULT_WITHDRAWAL_CURRENCIES
        ),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/"),
        # Hosts served besides PUBLIC_BASE_URL's own (comma separated); check_deployment()
        # adds that one. Requests for any other Host get 400 outside development.
        "TRUSTED_HOSTS": _list(os.environ.get("TRUSTED_HOSTS")),
        # The Ed25519 key that signs passports (a PEM file); else instance/signing-keys/
        # (written by `keys rotate` or seed-demo, never at start-up). See shop/identity/.
        "SIGNING_KEY_FILE": os.environ.get("SIGNING_KEY_FILE", "").strip(),
        "SIGNING_KEY_DIR": str(instance / "signing-keys"),
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", str(instance / "media")),
        # Images: `local` (under MEDIA_ROOT) or `s3` (a bucket every machine shares),
        # linked from MEDIA_BASE_URL (empty: the store's own /media/). See shop/media.py.
        "MEDIA_STORAGE": os.environ.get("MEDIA_STORAGE", "local").strip().lower(),
        "MEDIA_BASE_URL": os.environ.get("MEDIA_BASE_URL", ""),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", ""),
        "S3_BUCKET": os.environ.get("S3_BUCKET", ""),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", ""),
        "S3_REGION": os.environ.get("S3_REGION", "us-east-1"),
        # Objects under products/ that no image references are deleted by the sweep once
        # older than this (an upload writes its object before its row commits), and the
        # worker sweeps this often (0: only `flask media sweep`). See image_objects.py.
        "MEDIA_SWEEP_GRACE_HOURS": _int("MEDIA_SWEEP_GRACE_HOURS", 24),
        "MEDIA_SWEEP_EVERY_HOURS": _int("MEDIA_SWEEP_EVERY_HOURS", 24),
        "PRODUCTS_PER_PAGE": _int("PRODUCTS_PER_PAGE", 12),
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,  # the largest upload a request may carry
        # A workshop whose last staff visit is older than this is overdue.
        "VETTING_VISIT_INTERVAL_DAYS": _int("VETTING_VISIT_INTERVAL_DAYS", 180),
        "PAYMENT_GATEWAY": os.environ.get("PAYMENT_GATEWAY", default_gateway).strip().lower(),
        "SHIPPING_RATES": os.environ.get("SHIPPING_RATES", DEFAULT_SHIPPING_RATES),
        "RESERVATION_MINUTES": _int("RESERVATION_MINUTES", 10),
        "PAYMENT_MINUTES": _int("PAYMENT_MINUTES", 15),
        "PAYMENT_REMINDER_MINUTES": _int("PAYMENT_REMINDER_MINUTES", 3),
        # Holding stock without paying: caps and checkout rate limits (see orders/checkout.py).
        "MAX_UNITS_PER_ORDER": _int("MAX_UNITS_PER_ORDER", DEFAULT_MAX_UNITS_PER_ORDER),
        "MAX_HELD_UNITS_PER_SESSION": _int(
            "MAX_HELD_UNITS_PER_SESSION", DEFAULT_MAX_HELD_UNITS_PER_SESSION
        ),
        "MAX_HELD_UNITS_PER_ADDRESS": _int(
            "MAX_HELD_UNITS_PER_ADDRESS", DEFAULT_MAX_HELD_UNITS_PER_ADDRESS
        ),
        "CHECKOUT_LIMIT_PER_ADDRESS": os.environ.get(
            "CHECKOUT_LIMIT_PER_ADDRESS", DEFAULT_CHECKOUT_LIMIT_PER_ADDRESS
        ),
        "CHECKOUT_LIMIT_PER_SESSION": os.environ.get(
            "CHECKOUT_LIMIT_PER_SESSION", DEFAULT_CHECKOUT_LIMIT_PER_SESSION
        ),
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
        "STRIPE_SECRET_KEY": stripe_key,
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", ""),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Requests to the partner API (/api/v1/) per client address (shop/api/http.py).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", DEFAULT_API_RATE_LIMIT),
        # Before every counter's key: stores (or a benchmark) sharing one Redis keep apart.
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", ""),
        # Rendered public pages: in each process when empty, shared in Redis (redis://...).
        "CACHE_URL": os.environ.get("CACHE_URL", "").strip(),
        "CACHE_KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "shop:"),
        # After Redis or the object store failed to answer, how long it is not called at all
        # (shop/breaker.py): pages skip the cache, limited forms answer 503, media 503.
        "DEPENDENCY_COOL_DOWN_SECONDS": _int("DEPENDENCY_COOL_DOWN_SECONDS", 10),
        # Benchmarks only (bench/catalog_pages.py): a request carrying this header is
        # answered as on a cache miss, to measure cold pages on the same server. Empty
        # (the default) turns it off: no visitor can make the store render on demand.
        "PAGE_CACHE_COLD_HEADER": os.environ.get("PAGE_CACHE_COLD_HEADER", "").strip(),
        # How many reverse proxies stand in front (their X-Forwarded-* headers are trusted).
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # Bearer token for /metrics; without one, /metrics exists only in development.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # "json": one JSON object a line on stdout (shop/request_log.py); gunicorn's
        # config sets it up for `make serve` whatever this says.
        "LOG_FORMAT": os.environ.get(
            "LOG_FORMAT", "text" if environment == DEVELOPMENT else "json"
        ),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": _int("MAIL_PORT", 587),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(os.environ.get("MAIL_USE_TLS"), True),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "shop@madeknown.example"),
        "MAIL_OUTBOX": os.environ.get("MAIL_OUTBOX", str(instance / "outbox")),
        **_job_settings(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(
            os.environ.get("SESSION_COOKIE_SECURE"), environment != DEVELOPMENT
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "RAISE_ON_LAZY_LOAD": False,
    }


def _job_settings() -> dict:
    """The queue (shop.jobs.engine says which URLs) and how jobs are retried."""
    return {
        # Empty: the embedded SQLite queue in the instance folder; redis://… at scale.
        "QUEUE_URL": os.environ.get("QUEUE_URL", "").strip(),
        "QUEUE_NAME": os.environ.get("QUEUE_NAME", "madeknown"),
        "QUEUE_IMMEDIATE": False,
        # A worker that holds a job longer than this is presumed dead and the job is run
        # again: keep it well above the slowest job (an SMTP send times out after 20 s).
        "JOB_LEASE_SECONDS": _int("JOB_LEASE_SECONDS", 300),
        "JOB_RETRY_SECONDS": _int("JOB_RETRY_SECONDS", 30),  # doubled on each failure
        "JOB_RETRY_MAX_SECONDS": _int("JOB_RETRY_MAX_SECONDS", 3600),
        "JOB_MAX_ATTEMPTS": _int("JOB_MAX_ATTEMPTS", 10),  # some 4 hours of tries, then dead
        # How often the worker relays jobs left behind and releases expired holds.
        "JOB_PERIODIC_SECONDS": _int("JOB_PERIODIC_SECONDS", 60),
    }


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_deployment(config: MutableMapping) -> None:
    """Refuse to start a store that would be unsafe where real buyers reach it.

    Outside development (SHOP_ENV other than `development`): every absolute link comes
    from PUBLIC_BASE_URL, so it must be set, and requests for another Host are refused
    (Flask's TRUSTED_HOSTS, its host plus any TRUSTED_HOSTS given); the test gateway
    that takes card 4242 runs only when PAYMENT_GATEWAY=dummy was chosen explicitly.
    Raises ConfigError with what to set; fills in TRUSTED_HOSTS.
    """
    environment = config.get("ENV_NAME") or DEVELOPMENT
    base = config.get("PUBLIC_BASE_URL") or ""
    if base:
        parts = urlsplit(base)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            raise ConfigError(
                f"PUBLIC_BASE_URL must be the store's address, like https://shop.example.org; got {base!r}"
            )
    reservation, payment = config.get("RESERVATION_MINUTES"), config.get("PAYMENT_MINUTES")
    if reservation is not None and payment is not None and not 0 < reservation <= payment:
        raise ConfigError(
            "RESERVATION_MINUTES must be more than 0 and at most PAYMENT_MINUTES "
            f"(the hold is extended once payment starts); got {reservation} and {payment}"
        )
    reminder = config.get("PAYMENT_REMINDER_MINUTES")
    if reminder is not None and reservation is not None and not 0 <= reminder < reservation:
        raise ConfigError(
            "PAYMENT_REMINDER_MINUTES must be at least 0 and less than RESERVATION_MINUTES "
            f"(the reminder must reach the buyer while the order holds its stock); got {reminder}"
        )
    gateway = config.get("PAYMENT_GATEWAY") or ("dummy" if environment == DEVELOPMENT else "")
    if gateway and gateway not in GATEWAYS:
        raise ConfigError(f"PAYMENT_GATEWAY must be one of {', '.join(GATEWAYS)}; got {gateway!r}")
    config["PAYMENT_GATEWAY"] = gateway
    trusted = list(config.get("TRUSTED_HOSTS") or [])
    if environment == DEVELOPMENT:
        # `make run` works on 127.0.0.1:PORT with nothing configured. A development
        # store reached under any other name (one deployed without SHOP_ENV by
        # mistake) refuses the request, so no emailed link can be built on a Host
        # header an attacker sent; names set by hand are honoured.
        if base:
            trusted.append(urlsplit(base).hostname)
        config["TRUSTED_HOSTS"] = list(dict.fromkeys([*LOOPBACK_HOSTS, *trusted]))
        return
    if not base:
        raise ConfigError(
            f"PUBLIC_BASE_URL is not set (SHOP_ENV={environment}). Every emailed link and QR "
            "code is built from it, and requests for any other host are refused: set it to "
            "the store's public address, like PUBLIC_BASE_URL=https://shop.example.org"
        )
    if not gateway:
        raise ConfigError(
            f"No payment gateway is configured (SHOP_ENV={environment}): set STRIPE_SECRET_KEY "
            "(and the other STRIPE_* settings) to take payments, or PAYMENT_GATEWAY=dummy to "
            'run in test mode, where no money moves and card 4242 4242 4242 4242 "pays".'
        )
    if gateway == "stripe" and not config.get("STRIPE_SECRET_KEY"):
        raise ConfigError(
            f"PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY (SHOP_ENV={environment})."
        )
    config["TRUSTED_HOSTS"] = list(dict.fromkeys([urlsplit(base).hostname, *trusted]))


def normalise_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def config_for_tests(database_url: str, media_root: str, **overrides) -> dict:
    """Settings for the test suite: no environment, lazy loads raise."""
    config = {
        "TESTING": True,
        "ENV_NAME": "test",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "STORE_NAME": "Made Known",
        "STORE_CURRENCY": DEFAULT_CURRENCY,
        "STORE_LOCALE": "en_US",
        "WITHDRAWAL_CURRENCIES": DEFAULT_WITHDRAWAL_CURRENCIES,
        # Tests run with the deployment rules on: links from here, other Hosts refused
        # (127.0.0.1 is where the tests' live servers listen).
        "PUBLIC_BASE_URL": "http://localhost",
        "TRUSTED_HOSTS": ["127.0.0.1"],
        "MEDIA_ROOT": media_root,
        # One test key for the whole run, never the instance folder's (see below).
        "SIGNING_KEY_FILE": test_signing_key_file(),
        "SIGNING_KEY_DIR": str(Path(media_root).parent / "signing-keys"),
        "MEDIA_STORAGE": "local",
        "MEDIA_BASE_URL": "",
        "MEDIA_SWEEP_GRACE_HOURS": 24,
        "MEDIA_SWEEP_EVERY_HOURS": 24,
        "PRODUCTS_PER_PAGE": 12,
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "VETTING_VISIT_INTERVAL_DAYS": 180,
        "PAYMENT_GATEWAY": "dummy",
        "SHIPPING_RATES": DEFAULT_SHIPPING_RATES,
        "RESERVATION_MINUTES": 15,
        "PAYMENT_MINUTES": 30,
        "PAYMENT_REMINDER_MINUTES": 3,
        "MAX_UNITS_PER_ORDER": DEFAULT_MAX_UNITS_PER_ORDER,
        "MAX_HELD_UNITS_PER_SESSION": DEFAULT_MAX_HELD_UNITS_PER_SESSION,
        "MAX_HELD_UNITS_PER_ADDRESS": DEFAULT_MAX_HELD_UNITS_PER_ADDRESS,
        # Many test buyers share 127.0.0.1; the limit tests set their own.
        "CHECKOUT_LIMIT_PER_ADDRESS": "1000 per hour",
        "CHECKOUT_LIMIT_PER_SESSION": DEFAULT_CHECKOUT_LIMIT_PER_SESSION,
        "STRIPE_JS_URL": "https://js.stripe.com/v3/",
        "MAIL_SERVER": "",
        "MAIL_DEFAULT_SENDER": "shop@madeknown.example",
        "MAIL_OUTBOX": str(Path(media_root).parent / "outbox"),
        "RATELIMIT_STORAGE_URI": "memory://",
        # Tests of the partner API ask it hundreds of times from 127.0.0.1 (schemathesis);
        # the limit's own tests set a small one.
        "API_RATE_LIMIT": "100000 per minute",
        # Jobs run in this process as soon as their unit of work commits (Huey's immediate
        # mode): a test reads the email a request sent as soon as the request returns.
        "QUEUE_URL": "memory://",
        "QUEUE_NAME": "madeknown-test",
        "QUEUE_IMMEDIATE": True,
        "JOB_LEASE_SECONDS": 300,
        "JOB_RETRY_SECONDS": 30,
        "JOB_RETRY_MAX_SECONDS": 3600,
        "JOB_MAX_ATTEMPTS": 10,
        "JOB_PERIODIC_SECONDS": 60,
        "CACHE_URL": "",
        "DEPENDENCY_COOL_DOWN_SECONDS": 10,
        "TRUSTED_PROXIES": 0,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "RAISE_ON_LAZY_LOAD": True,
    }
    config.update(overrides)
    return config


TEST_SIGNING_KEY_VARIABLE = "SIGNING_KEY_FILE"
_test_key_file: str | None = None


def test_signing_key_file() -> str:
    """The signing key of a test run: the one tests/conftest.py made for the session (and
    put in SIGNING_KEY_FILE, so the stores it starts as processes sign with it too), or,
    outside pytest, one made now in a temporary folder of this process."""
    global _test_key_file
    if _test_key_file is None:
        from_session = os.environ.get(TEST_SIGNING_KEY_VARIABLE, "")
        if from_session and Path(from_session).is_file():
            _test_key_file = from_session
        else:
            import tempfile

            from shop.identity.keys import new_private_pem, write_key_file

            path = Path(tempfile.mkdtemp(prefix="shop-test-key-")) / "signing-key.pem"
            write_key_file(path, new_private_pem())
            _test_key_file = str(path)
    return _test_key_file
