"""Browser tests: the real store served on 127.0.0.1, driven in headless
Chromium (Debian's `chromium`) by Playwright. Without Chromium they skip, with
the reason, rather than pass."""

from __future__ import annotations

import os
import shutil

import pytest
from flask_migrate import upgrade

from shop import create_app
from shop.config import config_for_tests
from tests.conftest import serving

ADMIN_EMAIL, STAFF_EMAIL = "admin@example.org", "staff@example.org"
PASSWORD = "browser test password"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    candidate = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if os.path.exists(candidate) else None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def seeded_app(root, *imports: tuple[str, str]):
    """A store of its own (SQLite file under `root`) with the demo data, the admin and
    staff accounts, then each (kind, CSV text) of `imports` imported as `flask <kind>
    import` would ("catalog", "batches")."""
    app = create_app(config_for_tests(f"sqlite:///{root / 'live.db'}", str(root / "media")))
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    for email, role in ((ADMIN_EMAIL, "admin"), (STAFF_EMAIL, "staff")):
        made = app.test_cli_runner().invoke(
            args=["create-user", email, "--role", role, "--password-stdin"], input=f"{PASSWORD}\n"
        )
        assert made.exit_code == 0, made.output
    for number, (kind, text) in enumerate(imports):
        path = root / f"import-{number}-{kind}.csv"
        path.write_text(text, encoding="utf-8")
        done = app.test_cli_runner().invoke(args=[kind, "import", str(path)])
        assert done.exit_code == 0, done.output
    return app


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """A seeded store of its own (SQLite file), served on a free local port."""
    with serving(seeded_app(tmp_path_factory.mktemp("live"))) as base:
        yield base


@pytest.fixture
def screenshot_dir(tmp_path):
    path = os.environ.get("SCREENSHOT_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        return path
    return str(tmp_path)


def sign_in(page, base: str, email: str) -> None:
    """Sign the page's browser context in through the sign-in form (any of its labels)."""
    page.goto(base + "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main form[method=post] [type=submit]").click()
