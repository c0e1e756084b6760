"""Header hygiene for the reverse proxy: what goes upstream, what comes back.

Every decision about a header name lives here, so "where is a header stripped" has one answer.
Names are compared after :func:`canonical` (lower case, ``_`` read as ``-``) because WSGI folds
``X_User`` and ``X-User`` into one key and servers differ in what they drop.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from gateway.assertion import HEADER as ASSERTION_HEADER

#: RFC 9110 section 7.6.1 plus the de facto ones (``Proxy-Connection``, ``Keep-Alive``).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

#: Inbound names that could claim an identity (exact, after canonicalisation).
IDENTITY_HEADERS = frozenset(
    {
        "remote-user",
        "remote-email",
        "x-remote-user",
        "x-remote-email",
        "x-forwarded-user",
        "x-forwarded-email",
        "x-forwarded-preferred-username",
        "x-forwarded-groups",
        "x-forwarded-access-token",
        "x-authenticated-user",
        "x-authenticated-userid",
        "x-authenticated-email",
        "x-user",
        "x-user-id",
        "x-user-email",
        "x-email",
        "x-auth-user",
        "x-auth-email",
        "x-webauth-user",
        "x-ms-client-principal",
        "x-ms-client-principal-name",
        "x-ms-client-principal-id",
        "x-goog-authenticated-user-email",
        "x-goog-authenticated-user-id",
        "x-amzn-oidc-identity",
        "x-amzn-oidc-data",
    }
)
#: Inbound name prefixes that could claim an identity, or that the gateway sets itself.
IDENTITY_PREFIXES = ("x-identity-", "x-auth-request-", "x-forwarded-", "x-pomerium-")
#: Set by the gateway from what it trusts or sends; the client's own values never pass.
GATEWAY_SET = frozenset(
    {"forwarded", "x-real-ip", "x-request-id", "host", "x-original-url", "content-length"}
)
#: Never passed back to the browser from a product (the gateway sets its own request id).
RESPONSE_DROP = HOP_BY_HOP | {"x-request-id", ASSERTION_HEADER.lower()}



def canonical(name: str) -> str:
    """Compare header names as a proxy must: case-insensitive, ``_`` equal to ``-``."""
    return name.strip().lower().replace("_", "-")


def connection_tokens(values: Iterable[str]) -> set[str]:
    """Header names listed in ``Connection:`` (every occurrence), canonicalised."""
    tokens: set[str] = set()
    for value in values:
        tokens.update(canonical(t) for t in value.split(",") if t.strip())
    return tokens


def is_identity_header(name: str) -> bool:
    key = canonical(name)
    return key in IDENTITY_HEADERS or key.startswith(IDENTITY_PREFIXES)


def strip_cookie(value: str, names: Iterable[str]) -> str:
    """Remove the gateway's own cookies from a ``Cookie`` header, leaving the rest byte-for-byte."""
    drop = set(names)
    kept = [
        part
        for part in value.split(";")
        if part.strip() and part.split("=", 1)[0].strip() not in drop
    ]
    return ";".join(kept).strip()


def upstream_request_headers(
    inbound: Iterable[tuple[str, str]], *, drop_cookies: Iterable[str]
) -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop, identity and gateway-set ones.

    ``Content-Length`` is left to the proxy, which states the length of the body it actually
    sends (a chunked body it buffered has one now). The caller adds the gateway's headers
    afterwards, so nothing named in ``Connection:`` can remove them.
    """
    items = list(inbound)
    named = connection_tokens(v for k, v in items if canonical(k) == "connection")
    drop_cookies = tuple(drop_cookies)
    out: list[tuple[str, str]] = []
    for name, value in items:
        key = canonical(name)
        if key in HOP_BY_HOP or key in named or key in GATEWAY_SET or is_identity_header(key):
            continue
        if key == "cookie":
            value = strip_cookie(value, drop_cookies)
            if not value:
                continue
        out.append((name, value))
    return out


def forwarded_headers(
    *, client_ip: str, scheme: str, host: str, prefix: str, request_id: str
) -> list[tuple[str, str]]:
    """The headers a product needs to build URLs under its public prefix (ProxyFix order)."""
    return [
        ("X-Forwarded-For", client_ip),
        ("X-Forwarded-Proto", scheme),
        ("X-Forwarded-Host", host),
        ("X-Forwarded-Prefix", prefix),
        ("X-Request-ID", request_id),
    ]


def downstream_response_headers(
    upstream: Iterable[tuple[str, str]],
    *,
    prefix: str,
    upstream_origin: tuple[str, str],
    reserved_cookies: Iterable[str],
) -> list[tuple[str, str]]:
    """A product's response headers as the browser should see them under the gateway.

    Drops hop-by-hop headers (and those the product named in ``Connection:``), rewrites
    ``Location`` and ``Set-Cookie`` into the public prefix, and refuses cookies that would
    shadow the gateway's own session cookie.
    """
    items = list(upstream)
    named = connection_tokens(v for k, v in items if canonical(k) == "connection")
    reserved = set(reserved_cookies)
    out: list[tuple[str, str]] = []
    for name, value in items:
        key = canonical(name)
        if key in named or key in RESPONSE_DROP:
            continue
        if key in {"location", "content-location"}:
            value = rewrite_location(value, prefix, upstream_origin)
        elif key == "set-cookie":
            rewritten = rewrite_set_cookie(value, prefix, reserved)
            if rewritten is None:
                continue
            value = rewritten
        out.append((name, value))
    return out


def rewrite_location(value: str, prefix: str, upstream_origin: tuple[str, str]) -> str:
    """Map a redirect to the upstream (absolute or root-relative) into the public prefix.

    A path already under the prefix (a product that honours ``X-Forwarded-Prefix``) and
    URLs to other hosts (the gateway's public URL, say) are left alone.
    """
    parts = urlsplit(value.strip())
    if parts.scheme or parts.netloc:
        if (parts.scheme.lower(), parts.netloc.lower()) != upstream_origin:
            return value
    elif not value.startswith("/") or value.startswith(("//", "/\\")):
        return value  # relative to the current path: already correct under the prefix
    path = parts.path or "/"
    if not _under(path, prefix):
        path = prefix + path
    return urlunsplit(("", "", path, parts.query, parts.fragment))


def rewrite_set_cookie(value: str, prefix: str, reserved: set[str]) -> str | None:
    """Put a product cookie under the public prefix and drop its ``Domain``.

    Returns None for a cookie named like one of the gateway's own (``reserved``) and for a
    nameless one (``=gw_session=x``, or no ``=`` at all): a browser sends that as its bare
    value, which would read as a cookie of any name, the gateway's included.
    """
    pair, *attributes = value.split(";")
    name, equals, _ = pair.partition("=")
    if not equals or not name.strip() or name.strip() in reserved:
        return None
    kept = [pair]
    for attribute in attributes:
        name, _, attr_value = attribute.strip().partition("=")
        lowered = name.strip().lower()
        if lowered == "domain" or not lowered:
            continue
        if lowered == "path":
            path = attr_value.strip() or "/"
            if not path.startswith("/"):
                path = "/"
            if not _under(path, prefix):
                path = prefix + path
            kept.append(f" Path={path}")
            continue
        kept.append(" " + attribute.strip())
    # Without a Path the browser's default (the public URL's directory) is already right.
    return ";".join(kept)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")

