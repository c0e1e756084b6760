"""The built-in proxy's way of asking: the client's own request is the question, and the answer
to "allowed" is the product's response, streamed through with a signed identity assertion.

Per proxied request: one SELECT (session + user + product link), or none when the session check
is cached (``SESSION_CACHE_SECONDS``, default 2 s: a session revoked on another host stops
working within that time; on this host at once, :mod:`gateway.identity.host_epoch`).
Response bodies are streamed in 64 KiB chunks; request bodies were received before the
app ran, under the deadline and per-process bound every body has (:mod:`gateway.web.bodies`):
small ones whole before the product is contacted, large ones streamed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import urllib3
from urllib3 import BaseHTTPResponse, HTTPHeaderDict
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from werkzeug.datastructures import EnvironHeaders
from werkzeug.wrappers import Response

from gateway.assertion import HEADER as ASSERTION_HEADER
from gateway.products.table import Product
from gateway.proxy import headers as hdr
from gateway.proxy.decision import Principal
from gateway.proxy.signing import Signer
from gateway.web.bodies import received
from gateway.web.observability import UPSTREAM_ERRORS

log = logging.getLogger("gateway.proxy")

CHUNK = 64 * 1024


class UpstreamFailed(Exception):
    """The product could not be reached (502) or answered too slowly (504)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def forward(
    environ: dict[str, Any],
    *,
    product: Product,
    path: str,
    principal: Principal | None,
    request_id: str,
    client: str,
    host: str,
    signer: Signer,
    own_cookies: Iterable[str],
    timeout: urllib3.Timeout,
) -> Response:
    """The product's answer to the client's request for ``path`` (its own spelling, signed).

    Raises :class:`UpstreamFailed`, or ``BodyError`` when the client's streamed body failed
    (the client's error, not the product's)."""
    method = environ["REQUEST_METHOD"]
    query = environ.get("QUERY_STRING", "").encode("latin-1")
    own = tuple(own_cookies)
    out = hdr.upstream_request_headers(EnvironHeaders(environ).items(), drop_cookies=own)
    forwarded = hdr.forwarded_headers(
        client_ip=client,
        scheme=environ.get("wsgi.url_scheme", "http"),
        host=host,
        prefix=product.prefix,
        request_id=request_id,
    )
    out += forwarded
    if principal is not None:  # one signature: the assertion vouches for X-Forwarded-* too
        assertion = signer.assertion(product, principal, method, path, forwarded)
        out.append((ASSERTION_HEADER, assertion))
    else:
        out.append(signer.forwarded_proof(product, method, path, forwarded))
    body = received(environ)
    headers = HTTPHeaderDict()
    for name, value in out:
        headers.add(name, value)
    if body.length is not None:
        headers["Content-Length"] = str(body.length)
    started = time.perf_counter()
    try:
        upstream = product.pool.urlopen(
            method,
            product.upstream_url(path, query),
            body=body.payload,
            headers=headers,
            chunked=body.chunked,
            redirect=False,
            retries=False,
            timeout=timeout,
            preload_content=False,
            decode_content=False,
        )
    except NewConnectionError as exc:  # refused: a subclass of the timeout error in urllib3
        raise _failed(502, product, method, path, request_id, exc.__class__.__name__) from exc
    except Urllib3Timeout as exc:
        raise _failed(504, product, method, path, request_id, "timeout") from exc
    except (Urllib3Error, OSError) as exc:
        raise _failed(502, product, method, path, request_id, exc.__class__.__name__) from exc
    finally:
        body.close()
    log.debug(  # the access log (gateway.web.observability) already has one line per request
        "proxy %s %s%s -> %d %.1fms request_id=%s user=%s",
        method,
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
        reserved_cookies=own,
    )
    bodyless = method == "HEAD" or upstream.status in (204, 304)
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


def _failed(
    status: int, product: Product, method: str, path: str, request_id: str, reason: str
) -> UpstreamFailed:
    log.warning(
        "proxy %s %s%s -> %d (%s) request_id=%s",
        method,
        product.prefix,
        path,
        status,
        reason,
        request_id,
    )
    UPSTREAM_ERRORS.labels(product.name, str(status)).inc()
    return UpstreamFailed(status, reason)
