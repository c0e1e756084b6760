"""Forward-auth: the gateway as the authorisation service of an edge proxy operators already run.

The edge (nginx ``auth_request``, Caddy ``forward_auth``, Traefik ``forwardAuth``, Envoy
``ext_authz`` in HTTP mode, ingress-nginx ``auth-url``) asks before it forwards a request to a
product. Each convention is only a pair "read the question / write the answer" around the one
decision, :func:`gateway.proxy.decision.decide` (as Authelia's
``handler_authz_impl_{authrequest,forwardauth,extauthz}.go`` are around its one authorizer);
:class:`gateway.proxy.forward_answer.ForwardAuth` carries the pair, for the answer server
(:mod:`gateway.proxy.asgi`, what production edges ask) and the WSGI app
(:mod:`gateway.proxy.wsgi`) alike. Nothing here knows Flask.

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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Response

from gateway.assertion import HEADER as ASSERTION_HEADER
from gateway.proxy import headers as hdr
from gateway.proxy.answers import not_signed_in, plain
from gateway.proxy.decision import Decision, Verdict
from gateway.proxy.signing import Signer
from gateway.web.hosts import usable_host
from gateway.web.request_line import METHOD, PATH_SAFE

#: Response headers of an allowed request (the edge copies them; names in config/edge/).
PATH_HEADER = "X-Gateway-Path"
UNESCAPED_PATH_HEADER = "X-Gateway-Path-Unescaped"
COOKIE_HEADER = "X-Gateway-Cookie"
FORWARDED_PREFIX = "X-Gateway-Forwarded-"
ENVOY_PREFIX = "/auth/envoy"


class Unreadable(ValueError):
    """The edge sent no usable description of the original request."""


class Asked(NamedTuple):
    """The original request an edge asks about."""

    method: str
    scheme: str
    host: str
    raw_path: str
    query: str


#: environ, the request's own host -> the question (ValueError when unusable).
Reader = Callable[[Mapping[str, Any], str], Asked]
#: A decision other than "allowed" (or an allowed one with unusable values), whether a browser
#: asks -> the refusal or redirect the edge gets instead of 200.
Refuser = Callable[[Decision, bool], Response]


@dataclass(frozen=True)
class Convention:
    """One way an edge asks: which methods, how to read, what an unreadable or unusable
    question gets, how a decision other than "allowed" is answered, and what a bad Host gets."""

    name: str
    methods: frozenset[str]
    read: Reader
    unreadable: int
    refuse: Refuser


def read_nginx(environ: Mapping[str, Any], host: str) -> Asked:
    """nginx's ``X-Original-Method`` and ``X-Original-URL`` (a path only: the edge's own
    scheme and ``host``)."""
    method = _method(environ.get("HTTP_X_ORIGINAL_METHOD", ""))
    parts = urlsplit(environ.get("HTTP_X_ORIGINAL_URL", ""))
    scheme = environ.get("wsgi.url_scheme", "http")
    if parts.netloc:
        scheme, host = parts.scheme, parts.netloc
    return Asked(method, scheme, host, _raw_path(parts.path), parts.query)


def read_forward(environ: Mapping[str, Any], host: str) -> Asked:
    """Traefik/Caddy's ``X-Forwarded-Method``, ``-Proto``, ``-Host``, ``-Uri``."""
    method = _method(environ.get("HTTP_X_FORWARDED_METHOD", ""))
    uri = environ.get("HTTP_X_FORWARDED_URI", "")
    if not uri.startswith("/"):
        raise Unreadable("no X-Forwarded-Uri")
    parts = urlsplit(uri)
    scheme = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    host = environ.get("HTTP_X_FORWARDED_HOST") or host
    return Asked(method, scheme, host, _raw_path(parts.path), parts.query)


def read_envoy(environ: Mapping[str, Any], host: str) -> Asked:
    """Envoy's own request line: the original path after ``/auth/envoy``, the original method
    and ``Host``."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(
        (environ.get("PATH_INFO") or "").encode("latin-1").decode("utf-8", "replace"),
        safe=PATH_SAFE,
    )
    parts = urlsplit(raw)
    return Asked(_method(environ.get("REQUEST_METHOD", "")),
                 environ.get("HTTP_X_FORWARDED_PROTO", "http"), host,
                 _raw_path(parts.path[len(ENVOY_PREFIX):]), parts.query)


def refuse_nginx(decision: Decision, browser: bool) -> Response:
    """nginx takes only 401 and 403 besides 2xx."""
    verdict = decision.verdict
    if verdict is Verdict.SIGN_IN or verdict is Verdict.ENROL:
        return plain(401, decision.location if browser else None)
    if verdict is Verdict.LINK:
        return plain(401, decision.location)
    return plain(403)


def refuse_forward(decision: Decision, browser: bool) -> Response:
    """Traefik/Caddy/Envoy: the statuses of the built-in proxy, passed on by the edge."""
    verdict = decision.verdict
    if verdict is Verdict.SIGN_IN or verdict is Verdict.ENROL:
        response = not_signed_in(decision.location, browser)
    elif verdict is Verdict.LINK:
        response = plain(302, decision.location)
    elif verdict is Verdict.CANONICAL:
        response = plain(308, decision.location)
    elif verdict is Verdict.BAD_PATH or verdict is Verdict.ALLOW:  # ALLOW: unusable values
        response = plain(400)
    else:  # REFUSED, NOT_PRODUCT: nothing to see here, as with the built-in proxy
        response = plain(404)
    response.headers["Cache-Control"] = "no-store"
    return response


_GET = frozenset({"GET", "HEAD"})
#: Envoy asks with the original request's method; nginx (proxy_method GET) and Caddy use GET.
_ANY = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
NGINX = Convention("nginx", _GET, read_nginx, 403, refuse_nginx)
FORWARD = Convention("forward", _GET, read_forward, 400, refuse_forward)
ENVOY = Convention("envoy", _ANY, read_envoy, 400, refuse_forward)
#: What a request naming a bad Host gets here (gateway.web.hosts): nginx's auth_request takes
#: only 2xx/401/403; the other conventions pass the usual 400 on.
BAD_HOST_REFUSALS = {"/auth/nginx": 403}


def convention_for(path: str) -> Convention | None:
    """The convention an edge asks in at ``path`` (the request's own path), or None."""
    if path == "/auth/nginx":
        return NGINX
    if path == "/auth/forward":
        return FORWARD
    if path == ENVOY_PREFIX or path.startswith(ENVOY_PREFIX + "/"):
        return ENVOY
    return None


def allowed_headers(
    decision: Decision, asked: Asked, client: str, cookie: str,
    signer: Signer, own_cookies: Iterable[str],
) -> list[tuple[str, str]] | None:
    """The 200's headers: everything the edge forwards; None when the edge's values are
    unusable. ``client`` is the client address, ``cookie`` the client's ``Cookie`` header."""
    product = decision.product
    assert product is not None
    if asked.scheme not in ("http", "https") or not usable_host(asked.host):
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
        (PATH_HEADER, quote(decision.path, safe=PATH_SAFE)),
        # The same path unescaped (UTF-8 on the wire; no control characters: normalise_path
        # refuses them), for an edge whose rewrite escapes the path itself (Caddy 2.6).
        (UNESCAPED_PATH_HEADER, decision.path.encode("utf-8").decode("latin-1")),
    ]
    out += [(FORWARDED_PREFIX + name[len("X-Forwarded-"):], value) for name, value in forwarded]
    if decision.principal is not None:  # its fwd claim vouches for the forwarded values
        out.append((ASSERTION_HEADER, signer.assertion(
            product, decision.principal, asked.method, decision.path, forwarded
        )))
    else:
        out.append(signer.forwarded_proof(product, asked.method, decision.path, forwarded))
    # Even empty: an edge sets Cookie from it, never the client's.
    out.append((COOKIE_HEADER, hdr.strip_cookie(cookie, own_cookies)))
    return out


def _method(value: str) -> str:
    if not METHOD.fullmatch(value):
        raise Unreadable("method")
    return value.upper()


def _raw_path(path: str) -> str:
    """The path as the client sent it. Header values arrive as latin-1 text (WSGI); an edge
    copies a raw request line, UTF-8 included (nginx ``$request_uri``), so read it as UTF-8."""
    try:
        path = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise Unreadable("path is not UTF-8") from None
    if not path.startswith("/"):
        raise Unreadable("path")
    return path
