"""Prometheus metrics: what each process counts, and store-wide figures read at scrape.

Requests are counted by the process that served them. Under gunicorn each worker is a
process of its own; with PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it before
any worker starts) prometheus_client keeps their counts in files there and a scrape,
whichever worker answers it, adds them all up.

Store-wide figures (held units, orders paid, and what other parts of the store add
with `register_source`, such as queue depth and job failures) are read from the shared
database or queue when /metrics is scraped, so every process reports the same value
and nothing needs to be kept in step: aggregate them with max(), not sum(). The sources
are the app's (app.extensions, filled by `init_app` and each part's own init), so two
apps in one process (tests) never see each other's.

The request counters below are the process's, not an app's: prometheus_client keeps a
process's counts (in multi-process mode, in one file per process) whichever app served.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from flask import Flask, current_app
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

# Label values are kept to a known set, so a crawler cannot mint new time series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_own = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "shop_http_requests",
    "HTTP requests answered, by route (the URL rule), method and status class (5xx: errors).",
    ["route", "method", "status"],
    registry=_own,
)
LATENCY = Histogram(
    "shop_http_request_duration_seconds",
    "Time from receiving a request to sending the last byte of its answer.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=_own,
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in _METHODS else "OTHER"
    REQUESTS.labels(route, method, f"{status // 100}xx").inc()
    LATENCY.labels(route, method).observe(seconds)


# A source answers a number, or {label values: number} for a labelled family.
SourceValue = float | int | Mapping[tuple[str, ...], float | int]


@dataclass(frozen=True)
class Source:
    name: str
    documentation: str
    read: Callable[[], SourceValue]
    kind: str  # "gauge" or "counter"
    labels: tuple[str, ...]


EXTENSION = "metrics_sources"


def init_app(app: Flask) -> None:
    """Give `app` its sources, the store's own first; call before any other part
    registers its own."""
    app.extensions[EXTENSION] = {}
    register_source(
        app, "shop_stock_held_units",
        "Units held for orders waiting for payment (holds that ran out count until released).",
        _held_units,
    )  # fmt: skip
    register_source(
        app, "shop_orders_paid", "Orders that were ever paid.", _orders_paid, kind="counter"
    )


def register_source(
    app: Flask,
    name: str,
    documentation: str,
    read: Callable[[], SourceValue],
    *,
    kind: str = "gauge",
    labels: tuple[str, ...] = (),
) -> None:
    """Report `read()` as app's metric `name` at every scrape (inside the app context).

    For figures that live in the database or the queue and are the same whoever asks:
    the jobs package registers `shop_queue_depth`, `shop_jobs_dead` and
    `shop_job_failures` (see shop.jobs.monitoring). `read` must be cheap (one indexed
    query, one command to the queue). Registering a name again replaces it. A `read`
    that fails leaves its metric out of that scrape and counts in
    `shop_metrics_source_errors`. A counter's `read` must never go down: a figure that
    can (jobs dead now) is a gauge.
    """
    if kind not in ("gauge", "counter"):
        raise ValueError(f"kind must be gauge or counter, got {kind!r}")
    app.extensions[EXTENSION][name] = Source(name, documentation, read, kind, tuple(labels))


def _family(source: Source, value: SourceValue) -> Metric:
    family_class = CounterMetricFamily if source.kind == "counter" else GaugeMetricFamily
    if not source.labels:
        return family_class(source.name, source.documentation, value=float(value))
    family = family_class(source.name, source.documentation, labels=list(source.labels))
    for label_values, number in dict(value).items():
        family.add_metric(list(label_values), float(number))
    return family


def _read_sources() -> Iterator[Metric]:
    failed = GaugeMetricFamily(
        "shop_metrics_source_errors",
        "Store-wide metrics left out of this scrape because reading them failed.",
        labels=["metric"],
    )
    for source in list(current_app.extensions[EXTENSION].values()):
        try:
            value = source.read()
        except Exception as exc:  # one broken source must not hide the others
            log.warning("metric %s could not be read: %s", source.name, type(exc).__name__)
            failed.add_metric([source.name], 1.0)
            continue
        yield _family(source, value)
    yield failed


def multiprocess_mode() -> bool:
    # The same test prometheus_client made when it was first imported.
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ


class _Scrape:
    """What one /metrics answer holds: every process's own counts, then the sources."""

    def collect(self) -> Iterator[Metric]:
        if multiprocess_mode():
            yield from MultiProcessCollector(None).collect()
        else:
            yield from _own.collect()
        yield from _read_sources()


def exposition() -> bytes:
    """The Prometheus text format of every metric (call inside an app context)."""
    return generate_latest(_Scrape())


# --- the store's own sources ------------------------------------------------------------


def _held_units() -> int:
    from sqlalchemy import func, select

    from shop.catalog.models import Variant
    from shop.extensions import db

    # One running total per variant, kept by the stock services: no scan of the holds.
    return db.session.scalar(select(func.coalesce(func.sum(Variant.reserved), 0))) or 0


def _orders_paid() -> int:
    from sqlalchemy import func, select

    from shop.extensions import db
    from shop.orders.models import Order

    # paid_at is set once, when an order becomes paid, and kept through shipping and refunds.
    return db.session.scalar(select(func.count()).where(Order.paid_at.is_not(None))) or 0
