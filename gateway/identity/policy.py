"""The owners' sign-in policy: whether everyone must have a second factor, which second
factors count, and how long a session may live.

One row (``PolicyRow``, id 1); without it the defaults hold (2FA optional, both factors
allowed, the deployment's lifetimes). The lifetimes can only *tighten* the deployment's
settings (``SESSION_IDLE_TIMEOUT``, ``SESSION_MAX_AGE``): the settings are the ceiling, since
the session cookie itself expires at ``SESSION_MAX_AGE``.

Enforced where the decision is made, never in a page:

- lifetimes in ``sessions.is_live``, the one check of the Console, the built-in proxy and
  forward-auth; the proxy reads the row in the same SELECT as the session
  (LEFT JOIN on ``policy.id = 1``), so a change bites at the next request on every instance;
- "2FA for everyone" and the allowed factors in :func:`must_enrol`, which the enrolment gate
  (``gateway.console.enrolment_gate``) and the proxy's decision ask: an account without an
  allowed second factor is led to set one up at its next request. Recovery codes always come
  with the first factor (they are never a factor of their own). A factor the policy no
  longer allows still signs in (nobody is locked out by a policy change) but no longer
  counts, so "2FA for everyone" leads its holder to add an allowed one; a disallowed factor
  cannot be set up.

Changes go through ``gateway.identity.policy_changes`` (owners, a reason, audited).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from flask import g

from gateway.db import db
from gateway.models import PolicyRow, User

POLICY_ID = 1


@dataclass(frozen=True)
class Policy:
    require_2fa: bool = False
    allow_totp: bool = True
    allow_passkey: bool = True
    #: Seconds; None: the deployment's ``SESSION_IDLE_TIMEOUT`` / ``SESSION_MAX_AGE``.
    session_idle_seconds: int | None = None
    session_max_seconds: int | None = None

    @classmethod
    def of(cls, row: PolicyRow | None) -> Policy:
        if row is None:
            return cls()
        return cls(require_2fa=bool(row.require_2fa), allow_totp=bool(row.allow_totp),
                   allow_passkey=bool(row.allow_passkey),
                   session_idle_seconds=row.session_idle_seconds,
                   session_max_seconds=row.session_max_seconds)

    def idle_seconds(self, setting: int) -> int:
        """The idle lifetime in force: the policy's, never longer than the setting."""
        return min(setting, self.session_idle_seconds or setting)

    def max_seconds(self, setting: int) -> int:
        return min(setting, self.session_max_seconds or setting)

    def counts(self, user: User) -> bool:
        """Whether ``user`` has a second factor this policy allows."""
        return (self.allow_totp and user.has_2fa) or (self.allow_passkey and bool(user.passkeys))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def current() -> Policy:
    """The policy in force for this request (read once per request)."""
    if "_policy" not in g:
        g._policy = Policy.of(db().get(PolicyRow, POLICY_ID))
    return g._policy  # type: ignore[no-any-return]


def must_enrol(user: User, rules: Policy | None = None) -> bool:
    """The account must set up an allowed second factor before anything else: it holds a
    role, an operator reset its 2FA, or the policy requires 2FA of everyone; and it has no
    second factor the policy allows."""
    rules = rules or current()
    required = user.role is not None or user.must_enrol_2fa or rules.require_2fa
    return required and not rules.counts(user)
