"""Re-authentication: a timestamped freshness window before sensitive changes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import redirect, request, url_for
from flask_login import current_user

from gateway.identity.sessions import is_fresh


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
