"""Hypothesis strategies for hostile input, shared by the fuzzers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Bounded so the whole security suite stays well under a minute and a half on SQLite.
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Values that broke (or nearly broke) something somewhere once: always worth a try.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\nSet-Cookie: x=1",
    "\u202e",
    "\ufeff",
    "\u200b",
    "e\u0301",
    "🙂" * 40,
    "x" * 5000,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "%00",
    "%252e%252e",
    "../../etc/passwd",
    "//evil.test",
    "javascript:alert(1)",
    "ＡＬＩＣＥ@ＥＸＡＭＰＬＥ.ＣＯＭ",
    "alice@example.com",
    " Alice@Example.com ",
    "alice@@example.com",
    "a@b@example.com",
    "аlice@example.com",  # Cyrillic а
    "1e999",
    "-1",
    "99999999999999999999999999999999",
    "true",
    "null",
]

#: Any text a client can send (surrogates cannot be encoded as UTF-8, so they are left out).
text = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=80),
    st.text(st.characters(max_codepoint=0x7F), max_size=40),
)
emails = st.one_of(
    st.emails().map(lambda e: e[:200]),
    st.emails().map(lambda e: " " + e.upper()[:200] + "\t"),
    text,
)
#: Any JSON value, with the names the APIs look for as likely keys.
KEYS = [
    "schemas", "userName", "emails", "value", "primary", "type", "active", "externalId", "id",
    "meta", "Operations", "op", "path", "email", "password", "product_user_id",
    "console_user_id", "linked_by_email", "fail", "delay_seconds",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
    emails,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), text), inner, max_size=5),
    ),
    max_leaves=12,
)


def path_segment(value: str) -> str:
    """``value`` as one URL path segment (percent-encoded, so NUL and ``/`` arrive decoded)."""
    return quote(value, safe="") or "%20"


def form_fields(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A form with some of ``names`` (hostile values, sometimes repeated) and maybe extras."""
    value = st.one_of(text, emails, st.lists(text, min_size=2, max_size=3))
    extras = {"extra": text, "submit": text}
    return st.one_of(
        st.fixed_dictionaries({name: value for name in names}, optional=extras),
        st.fixed_dictionaries({}, optional={name: value for name in names} | extras),
    )
