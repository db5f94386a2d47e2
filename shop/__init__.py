"""Made Known: the application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the store. With `config`, the environment is not read at all.

    Raises shop.config.ConfigError, saying what to set, for a deployment that would be
    unsafe (no PUBLIC_BASE_URL, or the test gateway by default, outside development).
    """
    from shop.config import check_deployment

    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    if config is None:
        from shop.config import load_config

        app.config.from_mapping(load_config(app.instance_path))
    else:
        app.config.from_mapping(config)
    check_deployment(app.config)

    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:  # the visitor's address, not the proxy's, for rate limits and the audit log
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    _init_extensions(app)
    from shop.media import init_media

    init_media(app)
    from shop.web import register_request_guards

    register_request_guards(app)
    from shop.sessions import init_sessions

    init_sessions(app)
    from shop.i18n import init_i18n

    init_i18n(app)  # the reader's language, before any view or template needs it
    from shop.unit_of_work import register_unit_of_work

    register_unit_of_work(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    from shop.jobs import init_jobs

    init_jobs(app)  # after the blueprints: their modules register the job handlers

    from shop.cli import register_commands
    from shop.web import register_error_handlers, register_security_headers

    register_commands(app)
    register_error_handlers(app)
    register_security_headers(app)
    from shop.operations import register_operations

    register_operations(app)
    logging.getLogger("shop").setLevel(logging.INFO)
    return app


def _init_extensions(app: Flask) -> None:
    from shop import (
        metrics,
        models,  # noqa: F401  (every model registered before mapping)
        readiness,
    )

    # The app's own /readyz checks and /metrics sources, before any part adds its own.
    readiness.init_app(app)
    metrics.init_app(app)
    from shop.database import configure_sqlite, forbid_lazy_loads_in_requests
    from shop.extensions import csrf, db, limiter, migrate

    # A failed statement's message would carry its parameters (a legal name, an
    # address) into tracebacks and log lines; keep only the SQL.
    engine_options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    engine_options.setdefault("hide_parameters", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    from shop.rate_limits import init_rate_limits

    init_rate_limits(app)  # before the limiter reads its storage's settings
    limiter.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    forbid_lazy_loads_in_requests(db.session.session_factory.class_)

    from shop.accounts.views import init_login
    from shop.orders.gateways import init_gateways
    from shop.orders.holds import init_holds
    from shop.training.listeners import init_training

    init_login(app)
    init_gateways(app)
    init_holds()
    init_training(app)

    from shop.page_cache.pages import init_page_cache

    init_page_cache(app, ROOT)


def _register_blueprints(app: Flask) -> None:
    from shop.accounts import password_views  # noqa: F401  (adds its routes to accounts)
    from shop.accounts.views import bp as accounts_bp
    from shop.admin import (  # noqa: F401  (each adds its routes to /admin/)
        batch_views,
        catalog_views,
        dashboard_views,
        order_views,
        order_work_views,
        stock_views,
    )
    from shop.admin.blueprint import bp as admin_bp
    from shop.catalog.views import bp as catalog_bp
    from shop.content import admin_views as content_admin_views  # noqa: F401  (/admin/pages)
    from shop.content.views import bp as content_bp
    from shop.jobs import views as job_views  # noqa: F401  (adds /admin/jobs)
    from shop.orders import unpaid_views  # noqa: F401  (adds "Change details" to orders)
    from shop.orders.views import bp as orders_bp
    from shop.provenance import staff_views  # noqa: F401  (adds its routes to /staff/)
    from shop.provenance.views import bp as provenance_bp
    from shop.resolver.views import bp as resolver_bp
    from shop.staff import staff as staff_bp
    from shop.training import correction_views  # noqa: F401  (adds its routes to /staff/)
    from shop.training.views import bp as training_bp
    from shop.transparency import receipt_views  # noqa: F401  (adds receipts to /staff/)
    from shop.verification.views import bp as verification_bp
    from shop.web import bp as web_bp

    app.register_blueprint(web_bp)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(content_bp)
    app.register_blueprint(provenance_bp)
    app.register_blueprint(resolver_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(training_bp)
    app.register_blueprint(verification_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(admin_bp)
    from shop.identity import init_identity
    from shop.passports import init_passports

    init_identity(app)  # /.well-known/did.json, `keys rotate|list`
    init_passports(app)  # the signed credentials, their routes and `passport issue`
    from shop.seo import init_seo

    init_seo(app)  # robots.txt, the sitemap, root icons, canonical links
    from shop.transparency import init_transparency

    init_transparency(app)  # the ledger's transparency log and its routes under /log/
    from shop.api import init_api

    init_api(app)  # the partner API under /api/v1/, its OpenAPI document and reference


def _register_template_helpers(app: Flask) -> None:
    from shop import form_problems
    from shop.web import template_helpers

    template_helpers(app)
    form_problems.init_app(app)  # the back office's error summary (base.html)
