"""Request ids, structured JSON access logs and Prometheus metrics for the gateway.

Every request gets an id (a sane caller-sent ``X-Request-ID`` is kept), echoed in the response
and in one JSON access-log line. Query strings are never logged: verification and email-change
links carry their tokens there. ``/metrics`` answers only to the addresses in
``METRICS_ALLOW`` (loopback by default); under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` so
every worker's counters are summed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from gateway.web.client import client_ip, networks, peer_in, relayed
from gateway.web.ids import unique_id

access_log = logging.getLogger("gateway.access")

REQUESTS = Counter(
    "gateway_requests_total", "Requests answered by the gateway", ["method", "area", "status"]
)
LATENCY = Histogram(
    "gateway_request_seconds",
    "Time to the response headers",
    ["area"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total", "Upstream failures (502/504)", ["product", "status"]
)
LOGINS = Counter("gateway_logins_total", "Login attempts by outcome", ["outcome"])
THROTTLED = Counter("gateway_throttled_total", "Attempts refused with 429", ["stage"])


_METRICS_ALLOW = "gateway.metrics.allow"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id(value: str | None) -> str:
    """Keep a caller's ``X-Request-ID`` when it is short and plain, else make a new one.

    A new one is unique, not secret (``gateway.web.ids``)."""
    if value and _REQUEST_ID.match(value):
        return value
    return unique_id()


def _area() -> str:
    """A low-cardinality label: the blueprint (auth, settings, ...), or the area an answer
    given outside Flask's views named (proxy, forward_auth)."""
    return g.get("area") or request.blueprint or (
        "static" if request.endpoint == "static" else "other"
    )


def _start() -> None:
    begin(request_id(request.headers.get("X-Request-ID")), time.perf_counter())


def begin(rid: str, started: float, area: str | None = None) -> None:
    """This request's id and start time (and its metrics area when no blueprint names it):
    also for a page rendered for an answer that began outside Flask (``gateway.proxy.wsgi``)."""
    g.request_id = rid
    g.started = started
    if area:
        g.area = area


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
    record(request.method, _area(), response.status_code, elapsed, request.path,
           client_ip(), g.get("request_id", ""))
    return response


def record(method: str, area: str, status: int, elapsed: float, path: str, ip: str,
           request_id: str, log: bool = True) -> None:
    """Count one answered request and write its access-log line unless ``log`` is False (also
    for the answers given outside Flask's request cycle, :mod:`gateway.proxy.wsgi`)."""
    REQUESTS.labels(method, area, str(status)).inc()
    LATENCY.labels(area).observe(elapsed)
    if not log:
        return
    access_log.info(
        json.dumps(
            {
                "request_id": request_id,
                "method": method,
                "path": path[:512],
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "ip": ip,
                "area": area,
            }
        )
    )


def metrics() -> Response:
    """Only the scraper's own request: its socket peer in ``METRICS_ALLOW`` (as forward-auth
    judges its callers), and not relayed by a proxy, whose own address that peer would be."""
    if not peer_in(request.environ, current_app.extensions[_METRICS_ALLOW]) or relayed(
        request.environ
    ):
        abort(404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.extensions[_METRICS_ALLOW] = networks(app.config["METRICS_ALLOW"])
    app.add_url_rule("/metrics", "metrics", metrics)
