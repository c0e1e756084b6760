"""Case tables shared by the security suites: the built-in proxy (tests/hostile_input) and the
same attacks through real nginx and Caddy (tests/edge). A case added here runs on every path.
"""

from __future__ import annotations

IDENTITY_NAMES = [
    "X-Identity-Assertion", "X-Identity-Email", "X-Forwarded-User", "X-Forwarded-Email",
    "Remote-User", "X-Remote-User", "X-Auth-Request-Email", "X-User", "X-Authenticated-User",
    "X-MS-Client-Principal-Name", "X-Goog-Authenticated-User-Email", "X-Pomerium-Jwt-Assertion",
]


def identity_header_variants(name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))
    evil = "evil@attacker.test"
    return [
        ("lower", [(name.lower(), evil)]),
        ("upper", [(name.upper(), evil)]),
        ("underscore", [(name.replace("-", "_"), evil)]),
        ("mixed-underscore", [(mixed.replace("-", "_", 1), evil)]),
        ("duplicate", [(name, evil), (name.lower(), evil + "-2"),
                       (name.replace("-", "_"), evil + "-3")]),
    ]


#: Paths that must never reach an internal product path (CWE-22/41/178/176), as (id, path).
INTERNAL_PATH_CASES: list[tuple[str, str]] = [
    ("CWE-22-plain-scim", "/segment/scim/v2/Users"),
    ("CWE-22-plain-internal", "/sendgrid/internal/link/verify"),
    ("CWE-22-plain-healthz", "/segment/healthz"),
    ("CWE-22-dot-dot", "/segment/x/../scim/v2/Users"),
    ("CWE-22-encoded-dot-dot", "/segment/x/%2e%2e/scim/v2/Users"),
    ("CWE-22-encoded-dot-dot-upper", "/segment/x/%2E%2E/internal/link"),
    ("CWE-22-encoded-slash", "/segment/x%2f..%2fscim/v2/Users"),
    ("CWE-22-encoded-backslash", "/segment/x%5c..%5cscim/v2/Users"),
    ("CWE-22-double-encoded-dot-dot", "/segment/%252e%252e/scim/v2/Users"),
    ("CWE-22-double-encoded-letter", "/segment/%2573cim/v2/Users"),
    ("CWE-22-backslash", "/segment/x\\..\\internal\\link"),
    ("CWE-22-from-public-path", "/segment/login/../internal/link"),
    ("CWE-22-from-static", "/segment/static/../scim/v2/Users"),
    ("CWE-22-above-prefix", "/segment/../segment/scim/v2/Users"),
    ("CWE-41-double-slash", "/segment//scim/v2/Users"),
    ("CWE-41-double-slash-internal", "//sendgrid//internal//link"),
    ("CWE-41-dot-segment", "/segment/./scim/v2/Users"),
    ("CWE-41-trailing-dot", "/segment/scim./v2/Users"),
    ("CWE-41-triple-dot", "/segment/.../scim/v2/Users"),
    ("CWE-41-semicolon-param", "/segment/scim;x=1/v2/Users"),
    ("CWE-41-trailing-slash", "/segment/healthz/"),
    ("CWE-178-uppercase", "/segment/SCIM/v2/Users"),
    ("CWE-178-uppercase-prefix", "/SEGMENT/%73cim/v2/Users"),
    ("CWE-178-mixed-case", "/SendGrid/Internal/link"),
    ("CWE-176-fullwidth", "/segment/\uff53\uff43\uff49\uff4d/v2/Users"),
    ("CWE-176-fullwidth-encoded", "/segment/%EF%BD%93cim/v2/Users"),
    ("CWE-22-readyz", "/sendgrid/readyz"),
    ("CWE-41-dot-dot-semicolon", "/sendgrid/x/..;/scim/v2/Users"),
    ("CWE-41-encoded-dot-dot-semicolon", "/sendgrid/x/%2e%2e%3b/internal/link"),
    ("CWE-41-fullwidth-dot-dot", "/segment/x/\uff0e\uff0e/scim/v2/Users"),
]

#: Backslashes in a path, raw or percent-encoded (CWE-22/41): an edge reads ``\`` as a character
#: and routes on it, so a gateway that read it as ``/`` would authorise another product or path
#: than the edge forwards to (``/segment/..\sendgrid\settings``). Every path here is 400 at
#: every entry and reaches no product. As (id, path).
BACKSLASH_PATH_CASES: list[tuple[str, str]] = [
    ("CWE-22-backslash-to-other-product", "/segment/..\\sendgrid\\settings"),
    ("CWE-22-backslash-from-other-product", "/sendgrid/..\\segment\\x"),
    ("CWE-41-backslash-in-product", "/segment/a\\b"),
    ("CWE-41-backslash-after-prefix", "/segment\\x"),
    ("CWE-41-backslash-removed-by-dot-segment", "/segment/\\/../x"),
    ("CWE-22-encoded-backslash-to-other-product", "/segment/..%5Csendgrid%5Csettings"),
    ("CWE-41-encoded-backslash-lower", "/segment/a%5cb"),
    ("CWE-41-double-encoded-backslash", "/segment/a%255Cb"),
    ("CWE-41-double-encoded-backslash-lower", "/segment/a%255cb"),
]

#: Query and fragment tricks on public product routes (CWE-20): (id, path, product path or
#: None when the request must be refused).
PUBLIC_TRICK_CASES: list[tuple[str, str, str | None]] = [
    ("CWE-20-query-traversal", "/segment/login?next=/../scim/v2/Users", "/login"),
    ("CWE-20-query-encoded-traversal", "/segment/login?x=%2F..%2Fscim", "/login"),
    ("CWE-20-encoded-question-mark", "/segment/login%3F/../../scim/v2/Users", None),
    ("CWE-20-encoded-hash", "/segment/login%23/../../internal/link", None),
    ("CWE-20-double-encoded-question-mark", "/segment/login%253F/../../scim", None),
    ("CWE-20-semicolon", "/segment/login;/../scim/v2/Users", None),
    ("CWE-20-static-encoded-traversal", "/segment/static/..%2f..%2fscim/v2/Users", None),
    ("CWE-20-query-internal-path", "/segment/signup?/scim/v2/Users", "/signup"),
    ("CWE-41-dot-dot-semicolon-from-static", "/sendgrid/static/..;/settings", None),
    ("CWE-41-matrix-param-on-public", "/sendgrid/login;jsessionid=x", None),
]

#: ``next`` values that must never leave the gateway's origin (CWE-601), as (id, value).
OPEN_REDIRECTS: list[tuple[str, str]] = [
    ("CWE-601-double-slash", "//evil.test"),
    ("CWE-601-triple-slash", "///evil.test"),
    ("CWE-601-backslash", "/\\evil.test"),
    ("CWE-601-double-backslash", "\\\\evil.test"),
    ("CWE-601-slash-backslash-mix", "\\/evil.test"),
    ("CWE-601-tab", "/\t/evil.test"),
    ("CWE-601-newline", "/\n/evil.test"),
    ("CWE-601-encoded-tab", "/%09/evil.test"),
    ("CWE-601-encoded-newline", "/%0a/evil.test"),
    ("CWE-601-encoded-cr", "/%0d/evil.test"),
    ("CWE-601-encoded-space-prefix", "%20//evil.test"),
    ("CWE-601-leading-space", " //evil.test"),
    ("CWE-601-leading-nul", "\x00//evil.test"),
    ("CWE-601-encoded-nul", "/%00//evil.test"),
    ("CWE-601-absolute", "https://evil.test/"),
    ("CWE-601-scheme-no-slashes", "http:evil.test"),
    ("CWE-601-scheme-relative-userinfo", "//gw.test@evil.test/"),
    ("CWE-601-userinfo", "https://gw.test@evil.test/"),
    ("CWE-601-userinfo-encoded-at", "/%2F%2Fgw.test%40evil.test"),
    ("CWE-601-lookalike-host-suffix", "https://gw.test.evil.test/"),
    ("CWE-601-lookalike-host-path", "https://evil.test/gw.test"),
    ("CWE-601-lookalike-idn", "https://gw.tеst/"),  # Cyrillic е
    ("CWE-601-javascript", "javascript:alert(1)"),
    ("CWE-601-javascript-mixed-case", "JaVaScRiPt:alert(1)"),
    ("CWE-601-javascript-tab", "java\tscript:alert(1)"),
    ("CWE-601-javascript-encoded", "javascript%3Aalert(1)"),
    ("CWE-601-data", "data:text/html,<script>alert(1)</script>"),
    ("CWE-601-encoded-slashes", "/%2F%2Fevil.test"),
    ("CWE-601-encoded-slash-lower", "/%2f/evil.test"),
    ("CWE-601-encoded-backslash", "/%5Cevil.test"),
    ("CWE-601-double-encoded", "/%252F%252Fevil.test"),
    ("CWE-601-triple-encoded", "/%25252F%25252Fevil.test"),
    ("CWE-601-nested-url", "/login?next=https://evil.test/"),
    ("CWE-601-nested-double-encoded", "https%253A%252F%252Fevil.test"),
    ("CWE-601-unicode-division-slash", "/\u2215\u2215evil.test"),
    ("CWE-601-fullwidth-slash", "/\uff0f\uff0fevil.test"),
    ("CWE-601-dot-segments", "/segment/../..//evil.test"),
    ("CWE-601-encoded-dot-segments", "/%2e%2e//evil.test"),
]

#: Client-sent X-Forwarded-For values that must never become the client address (CWE-348).
FORWARDED_FOR: list[tuple[str, str]] = [
    ("CWE-348-not-an-ip", "not-an-ip"),
    ("CWE-348-empty", ""),
    ("CWE-348-commas-only", " , , "),
    ("CWE-348-garbage-last-hop", "203.0.113.9, garbage"),
    ("CWE-348-with-port", "203.0.113.9:443"),
    ("CWE-348-bracketed-v6", "[2001:db8::1]"),
    ("CWE-348-overflowing-octet", "999.1.1.1"),
    ("CWE-348-encoded-nul", "203.0.113.9%00"),
    ("CWE-348-huge", "1." * 3000),
    ("CWE-348-unicode-digits", "١٢٣.١.١.١"),
    ("CWE-348-sql", "1.1.1.1' OR '1'='1"),
    ("CWE-348-many-hops", ", ".join(["198.51.100.1"] * 200)),
]

#: Host values no URL can be built from (werkzeug's ``url_for`` refuses them): each gets a 400
#: wherever it arrives, and the gateway never signs one as ``X-Forwarded-Host``, as (id, host).
BAD_HOSTS: list[tuple[str, str]] = [
    ("label-over-63", "a" * 64 + ".example.com"),
    ("label-over-63-with-port", "a" * 64 + ".example.com:8080"),
    ("name-over-253", ".".join(["a" * 60] * 5)),
    ("empty-label", "a..example.com"),
    ("leading-dot", ".example.com"),
    ("space", "exa mple.com"),
    ("underscore", "exa_mple.com"),
    ("port-not-a-number", "example.com:http"),
    ("port-out-of-range", "example.com:99999"),
    ("broken-ipv6", "[::1"),
    # Punycode labels that are not IDNA: werkzeug's uri_to_iri raises decoding them.
    ("punycode-undecodable", "xn--a"),
    ("punycode-incomplete", "xn--zz"),
    ("punycode-uppercase-not-round-trip", "XN--ZCA"),
    ("punycode-trailing-hyphen", "xn--abc-.example.com"),
]


_LOCAL_LOOKALIKES = (
    "CWE-601-nested-url", "CWE-601-unicode-division-slash", "CWE-601-fullwidth-slash",
)

#: Return paths (``next``) both validators judge alike: the gateway's
#: (gateway/web/return_paths.py) and the products' vendored copy (product_stubs/kit/
#: return_paths.py), as (id, value). Accepted: relative paths on the same origin.
RETURN_PATHS_ACCEPTED: list[tuple[str, str]] = [
    ("root", "/"),
    ("console-page", "/settings"),
    ("product-prefix", "/segment/"),
    ("query-and-fragment", "/sendgrid/settings?tab=2#top"),
    ("encoded-unicode", "/segment/sources/caf%C3%A9"),
    ("product-page-with-query", "/workspaces/1?x=1"),
    ("colon-in-a-path-segment", "/javascript:x"),
    ("long-but-bounded", "/" + "a" * 600),
    # Local paths (the pages of OPEN_REDIRECTS still stay on the origin with them): /login
    # judges its own next when it is followed; look-alike slashes are path characters.
    *[(case, value) for case, value in OPEN_REDIRECTS if case in _LOCAL_LOOKALIKES],
]

#: Refused by both: everything that could leave the origin or climb out of a prefix (CWE-601,
#: CWE-22), the open-redirect corpus included.
RETURN_PATHS_REFUSED: list[tuple[str, str]] = [
    *[(case, value) for case, value in OPEN_REDIRECTS if case not in _LOCAL_LOOKALIKES],
    ("protocol-relative-with-product-path", "//evil.example/segment/"),
    ("scheme-single-slash", "http:/evil.example"),
    ("upper-case-scheme", "HTTPS://evil.example/"),
    ("leading-space-javascript", " javascript:alert(1)"),
    ("lower-case-encoded-slashes", "/%2f%2fevil.example"),
    ("fully-encoded-protocol-relative", "%2F%2Fevil.example"),
    ("ideographic-space", "/\u3000/evil.example"),
    ("no-break-space", "/\u00a0/evil.example"),
    ("newline-inside", "/a\nb"),
    ("no-leading-slash", "evil.example"),
    ("empty", ""),
    ("huge", "/" + "a" * 5000),
    ("dot-segment-inside", "/a/../b"),
    ("dot-segment-first", "/./x"),
    ("dot-segment-last", "/x/.."),
    ("quadruple-encoded", "/%2525252F%2525252Fevil.test"),
]
