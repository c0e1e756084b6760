"""Forward-auth: the gateway as the authorisation service of an edge proxy operators already run.

The edge (nginx ``auth_request``, Caddy ``forward_auth``, Traefik ``forwardAuth``, Envoy
``ext_authz`` in HTTP mode, ingress-nginx ``auth-url``) asks before it forwards a request to a
product; the answer comes from :func:`gateway.proxy.decision.decide`, the same decision the
built-in proxy makes. Endpoints:

``/auth/nginx``
    nginx ``auth_request`` convention: the original request in ``X-Original-Method`` and
    ``X-Original-URL``. Answers 200 (allowed), 401 (sign in, or link first: ``Location`` then
    names where the edge redirects; without one the edge answers 401) or 403 (refused: internal
    or malformed path, or a caller that is not the edge). nginx accepts no other status here.
``/auth/forward``
    Traefik / Caddy convention: ``X-Forwarded-Method``, ``-Proto``, ``-Host``, ``-Uri``.
    Answers 200, or the response the edge passes to the client as it is: 302 to
    ``/login?next=...`` (401 for API clients), 302 to ``/link/<product>``, 404, 400, 308.
``/auth/envoy/<original path>``
    Envoy ``ext_authz`` HTTP mode (``path_prefix: /auth/envoy``): the original path follows the
    prefix, method and ``Host`` are the original ones. Statuses as ``/auth/forward``.

A 200 carries what the edge must send to the product, all of it computed here so the edge
copies values and decides nothing itself:

- ``X-Identity-Assertion``: the ES256 JWT for the method and the path the product receives
  (absent on a product's public paths such as ``/login``);
- ``X-Gateway-Path``: that path, percent-encoded (prefix stripped, normalised): the edge must
  forward exactly it, never the client's spelling (``X-Gateway-Path-Unescaped``: the same path
  not escaped, for an edge whose rewrite escapes it, such as Caddy 2.6);
- ``X-Gateway-Forwarded-For``, ``-Proto``, ``-Host``, ``-Prefix``: the forwarded values, which
  the edge sends as ``X-Forwarded-*``, and the gateway's proof over exactly them (a product
  believes X-Forwarded-* only with it): the assertion's ``fwd`` claim, or on public paths
  ``X-Forwarded-Signature`` (only one of the two is answered; the edge copies both, as present);
- ``X-Gateway-Cookie``: the client's ``Cookie`` header without the gateway's own cookies (empty
  when nothing is left): the edge sends it as ``Cookie``, so a product never sees ``gw_session``.

Only callers in ``FORWARD_AUTH_ALLOW`` (the edge's addresses; empty by default, so off) are
answered; anyone else gets 403 before any header is read. The edge must also keep clients away
from these paths and strip ``X-Original-*``, ``X-Forwarded-Method``/``-Uri`` on everything it
proxies to the gateway (the shipped configurations in ``config/edge/`` do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, current_app, request, session
from flask.blueprints import BlueprintSetupState
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from gateway.assertion import HEADER as ASSERTION_HEADER
from gateway.assertion import valid_host
from gateway.proxy import headers as hdr
from gateway.proxy.decision import Decision, Verdict, decide
from gateway.proxy.dispatch import gateway_cookies, not_signed_in
from gateway.proxy.signing import assertion_for, forwarded_proof
from gateway.web.client import client_ip, networks, peer_in
from gateway.web.csrf import csrf
from gateway.web.negotiation import is_browser

bp = Blueprint("forward_auth", __name__)
csrf.exempt(bp)

_ALLOW = "gateway.forward_auth.allow"
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
#: Envoy asks with the original request's method; nginx (proxy_method GET) and Caddy use GET.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Response headers of an allowed request (the edge copies them; names in config/edge/).
PATH_HEADER = "X-Gateway-Path"
UNESCAPED_PATH_HEADER = "X-Gateway-Path-Unescaped"
COOKIE_HEADER = "X-Gateway-Cookie"
FORWARDED_PREFIX = "X-Gateway-Forwarded-"
#: What a request naming a bad Host gets here (gateway.web.hosts): nginx's auth_request takes
#: only 2xx/401/403; the other conventions pass the usual 400 on.
BAD_HOST_REFUSALS = {"/auth/nginx": 403}


class _Unreadable(ValueError):
    """The edge sent no usable description of the original request."""


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app: Flask = state.app  # type: ignore[assignment]
    app.extensions[_ALLOW] = networks(app.config["FORWARD_AUTH_ALLOW"])


@bp.before_request
def _only_the_edge() -> Response | None:
    """403 for any caller not in ``FORWARD_AUTH_ALLOW``, judged on the socket peer itself."""
    return None if from_the_edge(request.environ, current_app) else _plain(403)


def from_the_edge(environ: Mapping[str, Any], app: Flask) -> bool:
    """The socket peer (before ``ProxyFix``) is in ``FORWARD_AUTH_ALLOW``: only then are its
    ``X-Forwarded-*`` (the client address, scheme and host it asks about) believed and signed."""
    return peer_in(environ, app.extensions[_ALLOW])


@bp.route("/auth/nginx", methods=["GET", "HEAD"])
def nginx() -> Response:
    try:
        asked = read_nginx(request.headers, request.scheme, request.host)
    except ValueError:  # _Unreadable, or urlsplit's own refusal (a broken IPv6 host)
        return _plain(403)
    decision = decide(asked.raw_path, asked.query, session.get("sid"))
    verdict = decision.verdict
    if verdict is Verdict.ALLOW:
        return _allowed(decision, asked) or _plain(403)
    if verdict is Verdict.SIGN_IN:
        return _plain(401, decision.location if is_browser() else None)
    if verdict is Verdict.LINK:
        return _plain(401, decision.location)
    return _plain(403)


@bp.route("/auth/forward", methods=["GET", "HEAD"])
def forward() -> Response:
    try:
        asked = read_forward(request.headers, request.host)
    except ValueError:  # _Unreadable, or urlsplit's own refusal
        return _plain(400)
    return _answer(decide(asked.raw_path, asked.query, session.get("sid")), asked)


class Asked(NamedTuple):
    """The original request an edge asks about."""

    method: str
    scheme: str
    host: str
    raw_path: str
    query: str


def read_nginx(headers: Headers, scheme: str, host: str) -> Asked:
    """nginx's ``X-Original-Method`` and ``X-Original-URL`` (a path only: the edge's own
    ``scheme`` and ``host``); ValueError when unusable."""
    method = _method(headers.get("X-Original-Method", ""))
    parts = urlsplit(headers.get("X-Original-URL", ""))
    if parts.netloc:
        scheme, host = parts.scheme, parts.netloc
    return Asked(method, scheme, host, _raw_path(parts.path), parts.query)


def read_forward(headers: Headers, host: str) -> Asked:
    """Traefik/Caddy's ``X-Forwarded-Method``, ``-Proto``, ``-Host``, ``-Uri``; ValueError when
    unusable."""
    method = _method(headers.get("X-Forwarded-Method", ""))
    uri = headers.get("X-Forwarded-Uri", "")
    if not uri.startswith("/"):
        raise _Unreadable("no X-Forwarded-Uri")
    parts = urlsplit(uri)
    scheme = headers.get("X-Forwarded-Proto", "http")
    host = headers.get("X-Forwarded-Host") or host
    return Asked(method, scheme, host, _raw_path(parts.path), parts.query)


@bp.route("/auth/envoy/", defaults={"_rest": ""}, methods=_METHODS,
          provide_automatic_options=False, strict_slashes=False)
@bp.route("/auth/envoy/<path:_rest>", methods=_METHODS, provide_automatic_options=False)
def envoy(_rest: str) -> Response:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or (
        quote(request.path, safe=_PATH_SAFE)
    )
    try:
        parts = urlsplit(raw)
        asked = Asked(_method(request.method), request.headers.get("X-Forwarded-Proto", "http"),
                      request.host, _raw_path(parts.path[len("/auth/envoy"):]), parts.query)
    except ValueError:  # _Unreadable, or urlsplit's own refusal
        return _plain(400)
    return _answer(decide(asked.raw_path, asked.query, session.get("sid")), asked)


def _answer(decision: Decision, asked: Asked) -> Response:
    """Traefik/Caddy/Envoy: the statuses of the built-in proxy, passed on by the edge."""
    verdict = decision.verdict
    if verdict is Verdict.ALLOW:
        return _allowed(decision, asked) or _plain(400)
    if verdict is Verdict.SIGN_IN:
        response = not_signed_in(decision.location)
    elif verdict is Verdict.LINK:
        response = _plain(302, decision.location)
    elif verdict is Verdict.CANONICAL:
        response = _plain(308, decision.location)
    elif verdict is Verdict.BAD_PATH:
        response = _plain(400)
    else:  # REFUSED, NOT_PRODUCT: nothing to see here, as with the built-in proxy
        response = _plain(404)
    response.headers["Cache-Control"] = "no-store"
    return response


def _allowed(decision: Decision, asked: Asked) -> Response | None:
    headers = allowed_headers(decision, asked, client_ip(),
                              "; ".join(request.headers.getlist("Cookie")))
    return None if headers is None else Response(status=200, headers=headers)


def allowed_headers(
    decision: Decision, asked: Asked, client: str, cookie: str
) -> list[tuple[str, str]] | None:
    """The 200's headers: everything the edge forwards; None when the edge's values are
    unusable. ``client`` is the client address, ``cookie`` the client's ``Cookie`` header."""
    product = decision.product
    assert product is not None
    if asked.scheme not in ("http", "https") or not valid_host(asked.host):
        return None
    if "?" in decision.path or "#" in decision.path:
        return None  # an encoded ? or # in a path: edges disagree on where the path ends
    forwarded = hdr.forwarded_headers(
        client_ip=client, scheme=asked.scheme, host=asked.host, prefix=product.prefix,
        request_id="",
    )
    forwarded = [(name, value) for name, value in forwarded if name.startswith("X-Forwarded-")]
    out = [
        ("Cache-Control", "no-store"),
        (PATH_HEADER, quote(decision.path, safe=_PATH_SAFE)),
        # The same path unescaped (UTF-8 on the wire; no control characters: normalise_path
        # refuses them), for an edge whose rewrite escapes the path itself (Caddy 2.6).
        (UNESCAPED_PATH_HEADER, decision.path.encode("utf-8").decode("latin-1")),
    ]
    out += [(FORWARDED_PREFIX + name[len("X-Forwarded-"):], value) for name, value in forwarded]
    if decision.principal is not None:  # its fwd claim vouches for the forwarded values
        out.append((ASSERTION_HEADER, assertion_for(
            product, decision.principal, asked.method, decision.path, forwarded
        )))
    else:
        out.append(forwarded_proof(product, asked.method, decision.path, forwarded))
    # Even empty: an edge sets Cookie from it, never the client's.
    out.append((COOKIE_HEADER, hdr.strip_cookie(cookie, gateway_cookies(current_app.config))))
    return out


def _method(value: str) -> str:
    if not _METHOD.fullmatch(value):
        raise _Unreadable("method")
    return value.upper()


def _raw_path(path: str) -> str:
    """The path as the client sent it. Header values arrive as latin-1 text (WSGI); an edge
    copies a raw request line, UTF-8 included (nginx ``$request_uri``), so read it as UTF-8."""
    try:
        path = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise _Unreadable("path is not UTF-8") from None
    if not path.startswith("/"):
        raise _Unreadable("path")
    return path


def _plain(status: int, location: str | None = None) -> Response:
    response = Response(status=status)
    response.headers["Cache-Control"] = "no-store"
    if location:
        response.headers["Location"] = location
    return response

