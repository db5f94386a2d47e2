"""Settings, read from environment variables with safe defaults.

`load_config(instance_path)` is the only place that reads the environment, so a
test can build an app from a plain mapping instead (see `TestConfig`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_CURRENCY = "USD"
# code:label:price in cents, comma separated
DEFAULT_SHIPPING_RATES = (
    "standard:Standard post (7 to 14 days):800,express:Express courier (3 to 5 days):2500"
)


# Together they bound what one address can keep off sale without paying: about
# 10 orders an hour x 10 units x a 15-minute hold = some 25 units at any moment.
DEFAULT_MAX_UNITS_PER_ORDER = 10
DEFAULT_MAX_HELD_UNITS_PER_SESSION = 20
# Orders placed (not attempts refused); an address may be shared (an office, a campus).
DEFAULT_CHECKOUT_LIMIT_PER_ADDRESS = "10 per hour"
DEFAULT_CHECKOUT_LIMIT_PER_SESSION = "5 per hour"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


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
    return {
        "ENV_NAME": environment,
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(
            os.environ.get("DATABASE_URL", default_db)
        ),
        "STORE_NAME": os.environ.get("STORE_NAME", "Made Known"),
        "STORE_CURRENCY": os.environ.get("STORE_CURRENCY", DEFAULT_CURRENCY).upper(),
        "STORE_LOCALE": os.environ.get("STORE_LOCALE", "en_US"),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"),
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", str(instance / "media")),
        "PRODUCTS_PER_PAGE": _int("PRODUCTS_PER_PAGE", 12),
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,  # the largest upload a request may carry
        # A workshop whose last staff visit is older than this is overdue.
        "VETTING_VISIT_INTERVAL_DAYS": _int("VETTING_VISIT_INTERVAL_DAYS", 180),
        "PAYMENT_GATEWAY": os.environ.get("PAYMENT_GATEWAY", "stripe" if stripe_key else "dummy"),
        "SHIPPING_RATES": os.environ.get("SHIPPING_RATES", DEFAULT_SHIPPING_RATES),
        "RESERVATION_MINUTES": _int("RESERVATION_MINUTES", 15),
        # Holding stock without paying: caps and checkout rate limits (see orders/checkout.py).
        "MAX_UNITS_PER_ORDER": _int("MAX_UNITS_PER_ORDER", DEFAULT_MAX_UNITS_PER_ORDER),
        "MAX_HELD_UNITS_PER_SESSION": _int(
            "MAX_HELD_UNITS_PER_SESSION", DEFAULT_MAX_HELD_UNITS_PER_SESSION
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
        # How many reverse proxies stand in front (their X-Forwarded-* headers are trusted).
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": _int("MAIL_PORT", 587),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(os.environ.get("MAIL_USE_TLS"), True),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "shop@madeknown.example"),
        "MAIL_OUTBOX": os.environ.get("MAIL_OUTBOX", str(instance / "outbox")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(
            os.environ.get("SESSION_COOKIE_SECURE"), environment != "development"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "RAISE_ON_LAZY_LOAD": False,
    }


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
        "PUBLIC_BASE_URL": "",
        "MEDIA_ROOT": media_root,
        "PRODUCTS_PER_PAGE": 12,
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "VETTING_VISIT_INTERVAL_DAYS": 180,
        "PAYMENT_GATEWAY": "dummy",
        "SHIPPING_RATES": DEFAULT_SHIPPING_RATES,
        "RESERVATION_MINUTES": 15,
        "MAX_UNITS_PER_ORDER": DEFAULT_MAX_UNITS_PER_ORDER,
        "MAX_HELD_UNITS_PER_SESSION": DEFAULT_MAX_HELD_UNITS_PER_SESSION,
        # Many test buyers share 127.0.0.1; the limit tests set their own.
        "CHECKOUT_LIMIT_PER_ADDRESS": "1000 per hour",
        "CHECKOUT_LIMIT_PER_SESSION": DEFAULT_CHECKOUT_LIMIT_PER_SESSION,
        "STRIPE_JS_URL": "https://js.stripe.com/v3/",
        "MAIL_SERVER": "",
        "MAIL_DEFAULT_SENDER": "shop@madeknown.example",
        "MAIL_OUTBOX": str(Path(media_root).parent / "outbox"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "TRUSTED_PROXIES": 0,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "RAISE_ON_LAZY_LOAD": True,
    }
    config.update(overrides)
    return config
