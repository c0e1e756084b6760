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

import ipaddress
import re
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from gateway.assertion import HEADER as ASSERTION_HEADER
from gateway.proxy import headers as hdr
from gateway.proxy.decision import Decision, Verdict, decide
from gateway.proxy.dispatch import gateway_cookies, not_signed_in
from gateway.proxy.signing import assertion_for, forwarded_proof
from gateway.web.client import client_ip
from gateway.web.csrf import csrf
from gateway.web.negotiation import is_browser

bp = Blueprint("forward_auth", __name__)
csrf.exempt(bp)

_ALLOW = "gateway.forward_auth.allow"
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
#: Envoy asks with the original request's method; nginx (proxy_method GET) and Caddy use GET.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Response headers of an allowed request (the edge copies them; names in config/edge/).
PATH_HEADER = "X-Gateway-Path"
UNESCAPED_PATH_HEADER = "X-Gateway-Path-Unescaped"
COOKIE_HEADER = "X-Gateway-Cookie"
FORWARDED_PREFIX = "X-Gateway-Forwarded-"


class _Unreadable(ValueError):
    """The edge sent no usable description of the original request."""


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app: Flask = state.app  # type: ignore[assignment]
    app.extensions[_ALLOW] = tuple(
        ipaddress.ip_network(net, strict=False) for net in app.config["FORWARD_AUTH_ALLOW"]
    )


@bp.before_request
def _only_the_edge() -> Response | None:
    """403 for any caller not in ``FORWARD_AUTH_ALLOW``, judged on the socket peer itself."""
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or (
        request.environ.get("REMOTE_ADDR") or ""
    )
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return _plain(403)
    if not any(address in net for net in current_app.extensions[_ALLOW]):
        return _plain(403)
    return None


@bp.route("/auth/nginx", methods=["GET", "HEAD"])
def nginx() -> Response:
    try:
        method = _method(request.headers.get("X-Original-Method", ""))
        parts = urlsplit(request.headers.get("X-Original-URL", ""))
        if parts.netloc:
            scheme, host = parts.scheme, parts.netloc
        else:  # a path only: the edge's own scheme and host as it forwarded them
            scheme, host = request.scheme, request.host
        decision = decide(_raw_path(parts.path), parts.query)
    except ValueError:  # _Unreadable, or urlsplit's own refusal (a broken IPv6 host)
        return _plain(403)
    verdict = decision.verdict
    if verdict is Verdict.ALLOW:
        return _allowed(decision, method, scheme, host) or _plain(403)
    if verdict is Verdict.SIGN_IN:
        return _plain(401, decision.location if is_browser() else None)
    if verdict is Verdict.LINK:
        return _plain(401, decision.location)
    return _plain(403)


@bp.route("/auth/forward", methods=["GET", "HEAD"])
def forward() -> Response:
    headers = request.headers
    try:
        method = _method(headers.get("X-Forwarded-Method", ""))
        uri = headers.get("X-Forwarded-Uri", "")
        if not uri.startswith("/"):
            raise _Unreadable("no X-Forwarded-Uri")
        parts = urlsplit(uri)
        scheme = headers.get("X-Forwarded-Proto", "http")
        host = headers.get("X-Forwarded-Host") or request.host
        decision = decide(_raw_path(parts.path), parts.query)
    except ValueError:  # _Unreadable, or urlsplit's own refusal
        return _plain(400)
    return _answer(decision, method, scheme, host)


@bp.route("/auth/envoy/", defaults={"_rest": ""}, methods=_METHODS,
          provide_automatic_options=False, strict_slashes=False)
@bp.route("/auth/envoy/<path:_rest>", methods=_METHODS, provide_automatic_options=False)
def envoy(_rest: str) -> Response:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or (
        quote(request.path, safe=_PATH_SAFE)
    )
    try:
        parts = urlsplit(raw)
        method = _method(request.method)
        path = _raw_path(parts.path[len("/auth/envoy"):])
    except ValueError:  # _Unreadable, or urlsplit's own refusal
        return _plain(400)
    scheme = request.headers.get("X-Forwarded-Proto", "http")
    return _answer(decide(path, parts.query), method, scheme, request.host)


def _answer(decision: Decision, method: str, scheme: str, host: str) -> Response:
    """Traefik/Caddy/Envoy: the statuses of the built-in proxy, passed on by the edge."""
    verdict = decision.verdict
    if verdict is Verdict.ALLOW:
        return _allowed(decision, method, scheme, host) or _plain(400)
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


def _allowed(decision: Decision, method: str, scheme: str, host: str) -> Response | None:
    """The 200 with everything the edge forwards; None when the edge's values are unusable."""
    product = decision.product
    assert product is not None
    if scheme not in ("http", "https") or not _HOST.fullmatch(host):
        return None
    if "?" in decision.path or "#" in decision.path:
        return None  # an encoded ? or # in a path: edges disagree on where the path ends
    forwarded = hdr.forwarded_headers(
        client_ip=client_ip(), scheme=scheme, host=host, prefix=product.prefix, request_id=""
    )
    forwarded = [(name, value) for name, value in forwarded if name.startswith("X-Forwarded-")]
    response = Response(status=200)
    out = response.headers
    out["Cache-Control"] = "no-store"
    out[PATH_HEADER] = quote(decision.path, safe=_PATH_SAFE)
    # The same path unescaped (UTF-8 on the wire; no control characters: normalise_path
    # refuses them), for an edge whose rewrite escapes the path itself (Caddy 2.6).
    out[UNESCAPED_PATH_HEADER] = decision.path.encode("utf-8").decode("latin-1")
    for name, value in forwarded:
        out[FORWARDED_PREFIX + name[len("X-Forwarded-"):]] = value
    if decision.principal is not None:  # its fwd claim vouches for the forwarded values
        out[ASSERTION_HEADER] = assertion_for(
            product, decision.principal, method, decision.path, forwarded
        )
    else:
        name, proof = forwarded_proof(product, method, decision.path, forwarded)
        out[name] = proof
    cookie = hdr.strip_cookie(
        "; ".join(request.headers.getlist("Cookie")), gateway_cookies(current_app.config)
    )
    out[COOKIE_HEADER] = cookie  # even empty: an edge sets Cookie from it, never the client's
    return response


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

