"""The Console plan of an account (Console Trial or Console Unlimited). No payment integration:
upgrading is a confirmation step (``gateway/console/plan.py``) and an audit entry."""

from __future__ import annotations

from gateway.db import db
from gateway.identity import audit
from gateway.models import User


def upgrade_plan(user: User) -> bool:
    """Move ``user`` to the upgraded plan, audited and committed; False when already there."""
    if user.plan == "upgraded":
        return False
    previous = user.plan
    user.plan = "upgraded"
    audit.record("plan_upgraded", user.id, previous=previous)
    db().commit()
    return True
