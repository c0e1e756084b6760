"""An owner changes the sign-in policy (``gateway.identity.policy``): checked, audited with
each field old -> new and the reason, and in force at the next request everywhere.

The view asks for a fresh re-authentication first (``gateway.admin.guard``); here: the role
(owners only), the reason, the admin-action rate (``interventions.authorise``), and bounds
that keep the policy from locking everyone out.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy.exc import IntegrityError

from gateway.db import db
from gateway.identity import audit
from gateway.identity.interventions import Refused, authorise
from gateway.identity.policy import POLICY_ID, Policy
from gateway.identity.roles import Action, Actor
from gateway.identity.sessions import invalidate_cached_checks
from gateway.models import PolicyRow, utcnow

#: The shortest lifetimes an owner may set (seconds): shorter ones only sign everybody out.
IDLE_MIN = 60
MAX_AGE_MIN = 300


def checked(rules: Policy) -> Policy:
    """``rules`` when they can be put in force, else Refused saying why."""
    if not (rules.allow_totp or rules.allow_passkey):
        raise Refused("Allow at least one second factor.")
    config = current_app.config
    for value, least, setting, name in (
        (rules.session_idle_seconds, IDLE_MIN, config["SESSION_IDLE_TIMEOUT"], "idle timeout"),
        (rules.session_max_seconds, MAX_AGE_MIN, config["SESSION_MAX_AGE"], "maximum age"),
    ):
        if value is not None and not least <= value <= setting:
            raise Refused(f"The session {name} must be between {least} and {setting} seconds "
                          "(the deployment's setting is the longest).")
    return rules


def change(actor: Actor, rules: Policy, reason: object) -> dict[str, list[Any]]:
    """Put ``rules`` in force (owners only: NotAllowed else; Refused for a policy that would
    lock everyone out or lifetimes out of bounds), audited as ``policy_changed`` with every
    changed field ``[old, new]`` and the reason; commits. What changed (empty: nothing)."""
    text = authorise(actor, Action.MANAGE_POLICY, None, reason)
    checked(rules)
    row = db().get(PolicyRow, POLICY_ID, with_for_update=True)
    before = Policy.of(row)
    changes = {name: [old, new] for (name, old), new
               in zip(before.as_dict().items(), rules.as_dict().values(), strict=True)
               if old != new}
    if not changes:
        return changes
    if row is None:  # the first save; two owners at once: the database keeps one row
        try:
            with db().begin_nested():
                row = PolicyRow(id=POLICY_ID, **rules.as_dict())
                db().add(row)
        except IntegrityError:
            raise Refused("Another owner saved the policy at the same moment. Reload the "
                          "page and check it.") from None
    for name, value in rules.as_dict().items():
        setattr(row, name, value)
    row.updated_at, row.updated_by = utcnow(), actor.id
    audit.by_operator("policy_changed", None, actor.id, reason=text, changes=changes)
    invalidate_cached_checks()  # the proxy's cached checks were made under the old policy
    db().commit()
    g.pop("_policy", None)
    return changes
