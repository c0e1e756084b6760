"""The built-in proxy's floors (issue 23, item 4): pass-through proxies that do (next to) nothing.

Bench code only, never served by the gateway. ``bench/edge.py --proxy-floors ...`` starts each
beside the built-in proxy, on the same plain product page, so a row prices a server and an
upstream client with none of the gateway's work:

- :func:`gthread_floor` (WSGI): the built-in proxy's server (gunicorn gthread,
  ``config/gunicorn_gateway.py``) and its upstream client (a urllib3 pool, as
  ``gateway.products.table.make_pool``), streaming the product's answer back; no auth, no
  signing, no header rewriting beyond dropping hop-by-hop headers;
- :func:`aiohttp_floor` / :func:`httpx_floor` (ASGI): the answer server's server (uvicorn with
  httptools and uvloop under gunicorn, ``config/gunicorn_answers.py``) with a pooled async
  client (aiohttp or httpx2), streaming both ways;
- :func:`decide_floor` (ASGI, aiohttp or httpx2): the async floor plus the gateway's own work
  per request: the real :func:`gateway.proxy.decision.decide` (session from the per-process
  cache on the loop, a miss in a thread), the real header rewriting
  (:mod:`gateway.proxy.headers`) and the one ES256 assertion (``Signer.assertion``). No error
  pages, metrics, request body deadlines or access log: what it misses is the design's cost
  (bench/README.md, "Built-in proxy: where the time goes and the floor").

The upstream is ``SEGMENT_UPSTREAM``; paths under ``/segment/`` lose the prefix, as the built-in
proxy's do. aiohttp is not a dependency of the gateway: ``--extra-path`` in bench/edge.py puts
a folder holding it on the path (``pip install --target DIR aiohttp``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

import urllib3

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

PREFIX = "/segment"
CHUNK = 64 * 1024
#: Hop-by-hop headers (RFC 9110 7.6.1) and what the client library sets itself.
HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                 "transfer-encoding", "upgrade", "host", "content-length"})


def _passed(name: str) -> bool:
    """A response header the floors pass on (the product's length kept)."""
    return name not in HOP or name == "content-length"


Rewrite = Callable[[list[tuple[str, str]]], list[tuple[str, str]]]


def _response_headers(raw: Iterable[tuple[bytes, bytes]], rewrite: Rewrite | None
                      ) -> list[tuple[bytes, bytes]]:
    if rewrite is None:
        return [(k.lower(), v) for k, v in raw if _passed(k.lower().decode("latin-1"))]
    text = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in rewrite(text)]


def _upstream() -> str:
    return os.environ["SEGMENT_UPSTREAM"].rstrip("/")


def _target(path: str, query: str) -> str:
    rest = path[len(PREFIX):] if path.startswith(PREFIX + "/") else path
    return rest + ("?" + query if query else "")


# --- (a) gunicorn gthread + urllib3 ---------------------------------------------------------

_pool: urllib3.HTTPConnectionPool | None = None


def gthread_floor(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """WSGI: the client's request passed to the product through a urllib3 pool, streamed back."""
    global _pool
    if _pool is None:
        _pool = urllib3.connection_from_url(_upstream(), maxsize=64, block=False)
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in HOP}
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else None
    upstream = _pool.urlopen(
        environ["REQUEST_METHOD"], _target(environ.get("PATH_INFO", "/"),
                                           environ.get("QUERY_STRING", "")),
        body=body, headers=headers, redirect=False, retries=False, preload_content=False,
        decode_content=False, timeout=urllib3.Timeout(connect=5, read=30))
    start_response(f"{upstream.status} {upstream.reason}",
                   [(k, v) for k, v in upstream.headers.items() if _passed(k.lower())])
    return _relay(upstream)


def _relay(upstream: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    try:
        yield from upstream.stream(CHUNK, decode_content=False)
    finally:
        upstream.release_conn()


# --- (b) uvicorn + an async pooled client ---------------------------------------------------

def _lifespan_app(app: Callable[[Scope, Receive, Send], Awaitable[None]],
                  closing: Callable[[], Awaitable[None]]
                  ) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await closing()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            await app(scope, receive, send)
    return asgi


async def _body(receive: Receive) -> Any:
    """The request body as an async iterator of chunks (None when the request has none)."""
    first = await receive()
    if not first.get("more_body"):
        return first.get("body") or None

    async def chunks() -> Any:
        yield first.get("body", b"")
        while True:
            message = await receive()
            yield message.get("body", b"")
            if not message.get("more_body"):
                return
    return chunks()


def _request_headers(scope: Scope) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
            if name.decode("latin-1") not in HOP]


class _AiohttpClient:
    """One aiohttp session per worker, made on the worker's loop at the first request."""

    def __init__(self) -> None:
        self.session: Any = None

    def get(self) -> Any:
        if self.session is None:
            import aiohttp

            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, force_close=False),
                auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding",
                                                          "Accept"),
                timeout=aiohttp.ClientTimeout(connect=5, sock_read=30))
        return self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def exchange(self, method: str, url: str, headers: list[tuple[str, str]],
                       body: Any, send: Send, rewrite: Rewrite | None = None) -> None:
        async with self.get().request(method, url, headers=headers, data=body,
                                      allow_redirects=False) as upstream:
            await send({"type": "http.response.start", "status": upstream.status,
                        "headers": _response_headers(upstream.raw_headers, rewrite)})
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


class _HttpxClient:
    """One httpx2 ``AsyncClient`` per worker, made on the worker's loop at the first request."""

    def __init__(self) -> None:
        self.client: Any = None

    def get(self) -> Any:
        if self.client is None:
            import httpx2

            self.client = httpx2.AsyncClient(
                limits=httpx2.Limits(max_connections=64, max_keepalive_connections=64),
                timeout=httpx2.Timeout(30, connect=5), trust_env=False)
        return self.client

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def exchange(self, method: str, url: str, headers: list[tuple[str, str]],
                       body: Any, send: Send, rewrite: Rewrite | None = None) -> None:
        client = self.get()
        request = client.build_request(method, url, headers=headers, content=body)
        upstream = await client.send(request, stream=True)
        try:
            await send({"type": "http.response.start", "status": upstream.status_code,
                        "headers": _response_headers(upstream.headers.raw, rewrite)})
            async for chunk in upstream.aiter_raw(CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await upstream.aclose()


def _client(kind: str) -> _AiohttpClient | _HttpxClient:
    return _AiohttpClient() if kind == "aiohttp" else _HttpxClient()


def async_floor(kind: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """ASGI: the client's request passed to the product through a pooled async client."""
    client = _client(kind)
    upstream = _upstream()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        await client.exchange(scope["method"], upstream + _target(scope["path"], query),
                              _request_headers(scope), await _body(receive), send)

    return _lifespan_app(app, client.close)


def aiohttp_floor() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    return async_floor("aiohttp")


def httpx_floor() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    return async_floor("httpx")


# --- (c) the async floor + the gateway's decide, header rewriting and signature -------------

def decide_floor(kind: str = "aiohttp") -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """ASGI: :func:`async_floor` plus the gateway's per-request work (see the module's
    docstring). Built over ``gateway.create_app()``'s settings, database, keys and products."""
    from gateway import create_app
    from gateway.app import answer_server
    from gateway.assertion import HEADER as ASSERTION_HEADER
    from gateway.proxy import headers as hdr
    from gateway.proxy.decision import Question, Verdict, decide
    from gateway.proxy.principal import CachedOnly, NeedsLookup
    from gateway.web.observability import request_id

    answers = answer_server(create_app())
    forward = answers.forward
    inline = CachedOnly(forward.sessions)  # type: ignore[arg-type]
    table, signer, own = forward.table, forward.signer, tuple(forward.settings.own_cookies)
    client = _client(kind)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        inbound = _request_headers(scope)
        cookie = ",".join(v for k, v in inbound if k == "cookie")
        query = scope.get("query_string", b"").decode("latin-1")
        question = Question(scope["raw_path"].decode("latin-1"), query, cookie)
        try:
            decision = decide(question, inline, table)
        except NeedsLookup:
            decision = await asyncio.to_thread(decide, question, forward.sessions, table)
        if decision.verdict is not Verdict.ALLOW or decision.product is None:
            await send({"type": "http.response.start", "status": 403, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        product, method = decision.product, scope["method"]
        out = hdr.upstream_request_headers(inbound, drop_cookies=own)
        host = next((v for k, v in inbound if k == "host"), "")
        forwarded = hdr.forwarded_headers(client_ip=scope["client"][0], scheme=scope["scheme"],
                                          host=host, prefix=product.prefix,
                                          request_id=request_id(None))
        out += forwarded
        if decision.principal is not None:
            out.append((ASSERTION_HEADER, signer.assertion(product, decision.principal, method,
                                                           decision.path, forwarded)))
        url = product.upstream_url(decision.path, query.encode("latin-1"))

        def rewrite(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
            return hdr.downstream_response_headers(headers, prefix=product.prefix,
                                                   upstream_origin=product.origin,
                                                   reserved_cookies=own)

        await client.exchange(method, url, out, await _body(receive), send, rewrite)

    return _lifespan_app(app, client.close)
