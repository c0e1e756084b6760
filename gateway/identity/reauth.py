"""Re-authentication: a timestamped freshness window before sensitive changes.

A confirmation that passes opens the window (``sessions.reauthenticated``, which commits); one
that is refused goes through :func:`refused`. Both commit once, so the settings page commits
nothing itself (``gateway/db.py``: one unit of work per request)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import redirect, request, url_for
from flask_login import current_user

from gateway.db import db
from gateway.identity import audit, throttle
from gateway.identity.sessions import is_fresh
from gateway.models import User


def fresh_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send the person to confirm their password (and 2FA) unless they did so recently."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        if not is_fresh(current_user.record):
            return redirect(url_for("settings.reauthenticate", next=request.path))
        return view(*args, **kwargs)

    return wrapper


def refused(user: User, ip: str) -> None:
    """A refused confirmation: counted like a failed sign-in (the throttle's own transaction),
    audited as a failed confirmation; commits the audit row."""
    throttle.record_failure(user.email, ip)
    audit.record("login_failed", user.id, stage="reauthenticate")
    db().commit()
