"""The reverse proxy: ``/<prefix>/...`` streamed to the product with a signed identity assertion.

Runs as a ``before_app_request`` hook rather than a URL rule, so it sees every path *after*
normalisation: ``/SEGMENT/x``, ``//segment/./x`` or ``/%73egment/x`` are routed (or refused) like
``/segment/x``, and nothing that normalises into an internal product path gets through.

Per proxied request: one SELECT (session + user + product link), or none when the session check
is cached (``SESSION_CACHE_SECONDS``, default 2 s: a revoked session stops working within that
time). Response bodies are streamed in 64 KiB chunks; request bodies were received before the
app ran, under the deadline and per-process bound every body has (:mod:`gateway.web.bodies`):
small ones whole before the product is contacted, large ones streamed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, cast

import urllib3
from flask import Blueprint, Flask, current_app, g, jsonify, redirect, request, session
from flask.blueprints import BlueprintSetupState
from flask_login.config import COOKIE_NAME as REMEMBER_COOKIE
from urllib3 import BaseHTTPResponse, HTTPHeaderDict
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from gateway.assertion import HEADER as ASSERTION_HEADER
from gateway.products.table import Product, products
from gateway.proxy import headers as hdr
from gateway.proxy import principal
from gateway.proxy.decision import Verdict, decide
from gateway.proxy.principal import Principal
from gateway.proxy.signing import assertion_for, forwarded_proof
from gateway.web.bodies import BodyError, received
from gateway.web.client import client_ip
from gateway.web.csrf import csrf
from gateway.web.errors import error_response
from gateway.web.limits import body_refused
from gateway.web.negotiation import is_browser
from gateway.web.observability import UPSTREAM_ERRORS
from gateway.web.observability import request_id as request_id_of

log = logging.getLogger("gateway.proxy")

bp = Blueprint("proxy", __name__)
csrf.exempt(bp)

CHUNK = 64 * 1024
#: RFC 9110 section 9.1: a method is a token. Anything else is the client's error.
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    principal.init_app(app)
    # URL rules for the canonical prefixes, so ``request.blueprint == "proxy"`` (CSRF exemption,
    # form-size limit, security headers); the ``dispatch`` hook answers before they dispatch.
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    for product in products(app):
        for rule in (product.prefix, product.prefix + "/", product.prefix + "/<path:rest>"):
            state.add_url_rule(
                rule,
                f"forward_{product.name}",
                _unrouted,
                methods=methods,
                provide_automatic_options=False,
                strict_slashes=False,
            )


def _unrouted(**_kwargs: str) -> Response:
    """Reached only if ``dispatch`` declined the path (it never does for a product prefix)."""
    raise NotFound()


@bp.before_app_request
def dispatch() -> Response | None:
    """``before_request``: answer every path under a product prefix; others fall through.

    Runs first for every request, so it also refuses a method that is not a token (the
    development server passes any bytes; urllib3 would raise on them).
    """
    if not _METHOD.fullmatch(request.method):
        raise BadRequest()
    decision = decide(request.path, request.query_string.decode("latin-1"), session.get("sid"))
    verdict = decision.verdict
    if verdict is Verdict.NOT_PRODUCT:
        return None
    if verdict is Verdict.BAD_PATH:
        raise BadRequest()
    if verdict is Verdict.REFUSED:
        raise NotFound()
    if verdict is Verdict.CANONICAL:
        return redirect(decision.location, 308)
    if verdict is Verdict.SIGN_IN:
        return not_signed_in(decision.location)
    if verdict is Verdict.LINK:
        return redirect(decision.location, 302)
    assert decision.product is not None
    request_id = g.get("request_id") or request_id_of(request.headers.get("X-Request-ID"))
    return _forward(decision.product, decision.path, decision.principal, request_id)


def not_signed_in(login: str) -> Response:
    """Browsers are sent to ``login``; API clients get a 401 naming the sign-in page."""
    if is_browser():
        return redirect(login, 302)
    response = jsonify(error="not_authenticated", login="/login")
    response.status_code = 401
    return response


# --- the upstream request --------------------------------------------------------------------


def gateway_cookies(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The gateway's own cookies (session, remember-me, known device): never sent to a
    product, never set by one. The forward-auth answer uses the same list."""
    names = (
        config["SESSION_COOKIE_NAME"],
        config.get("REMEMBER_COOKIE_NAME", REMEMBER_COOKIE),
        config.get("DEVICE_COOKIE_NAME"),
    )
    return tuple(name for name in names if name)


def _forward(
    product: Product, path: str, principal: Principal | None, request_id: str
) -> Response:
    config = current_app.config
    own_cookies = gateway_cookies(config)
    out = hdr.upstream_request_headers(request.headers.items(), drop_cookies=own_cookies)
    forwarded = hdr.forwarded_headers(
        client_ip=client_ip(),
        scheme=request.scheme,
        host=request.host,
        prefix=product.prefix,
        request_id=request_id,
    )
    out += forwarded
    if principal is not None:  # one signature: the assertion vouches for X-Forwarded-* too
        out.append(
            (ASSERTION_HEADER, assertion_for(product, principal, request.method, path, forwarded))
        )
    else:
        out.append(forwarded_proof(product, request.method, path, forwarded))
    body = received(request.environ)
    headers = HTTPHeaderDict()
    for name, value in out:
        headers.add(name, value)
    if body.length is not None:
        headers["Content-Length"] = str(body.length)
    timeout = urllib3.Timeout(
        connect=config["UPSTREAM_CONNECT_TIMEOUT"], read=config["UPSTREAM_READ_TIMEOUT"]
    )
    started = time.perf_counter()
    try:
        upstream = product.pool.urlopen(
            request.method,
            product.upstream_url(path, request.query_string),
            body=body.payload,
            headers=headers,
            chunked=body.chunked,
            redirect=False,
            retries=False,
            timeout=timeout,
            preload_content=False,
            decode_content=False,
        )
    except BodyError as exc:  # a streamed body failed on the client's side, not the product's
        return body_refused(exc)
    except NewConnectionError as exc:  # refused: a subclass of the timeout error in urllib3
        return _upstream_error(502, product, path, request_id, exc.__class__.__name__)
    except Urllib3Timeout:
        return _upstream_error(504, product, path, request_id, "timeout")
    except (Urllib3Error, OSError) as exc:
        return _upstream_error(502, product, path, request_id, exc.__class__.__name__)
    finally:
        body.close()
    g.proxied_response = True  # the product's own answer (gateway.web.security_headers)
    log.debug(  # the access log (gateway.web.observability) already has one line per request
        "proxy %s %s%s -> %d %.1fms request_id=%s user=%s",
        request.method,
        product.prefix,
        path,
        upstream.status,
        (time.perf_counter() - started) * 1000,
        request_id,
        principal.user_id if principal else "-",
    )
    response_headers = hdr.downstream_response_headers(
        upstream.headers.items(),
        prefix=product.prefix,
        upstream_origin=product.origin,
        reserved_cookies=own_cookies,
    )
    bodyless = request.method == "HEAD" or upstream.status in (204, 304)
    if bodyless:
        upstream.drain_conn()  # nothing to read: hand the connection back to the pool now
        upstream.release_conn()
    response = Response(
        () if bodyless else _relay(upstream, request_id),
        status=upstream.status,
        headers=response_headers,
        direct_passthrough=True,
    )
    if not any(hdr.canonical(k) == "content-type" for k, _ in response_headers):
        del response.headers["Content-Type"]
    response.headers["X-Request-ID"] = request_id
    response.call_on_close(upstream.close)
    return response


def _relay(upstream: BaseHTTPResponse, request_id: str) -> Iterator[bytes]:
    """Yield the upstream body as it arrives, still encoded (gzip passes through untouched)."""
    complete = False
    try:
        yield from upstream.stream(CHUNK, decode_content=False)
        complete = True
    except (Urllib3Error, OSError) as exc:
        # Headers are gone already: abort the connection so the client sees a truncated body.
        log.warning("upstream body failed request_id=%s: %s", request_id, exc.__class__.__name__)
        raise
    finally:
        if complete:
            upstream.release_conn()  # body read to the end: keep the connection pooled
        else:
            upstream.close()


def _upstream_error(
    status: int, product: Product, path: str, request_id: str, reason: str
) -> Response:
    log.warning(
        "proxy %s %s%s -> %d (%s) request_id=%s",
        request.method,
        product.prefix,
        path,
        status,
        reason,
        request_id,
    )
    UPSTREAM_ERRORS.labels(product.name, str(status)).inc()
    response = error_response(status)
    response.headers["X-Request-ID"] = request_id
    response.headers["Cache-Control"] = "no-store"
    return response
