"""Who may open the operator console, checked before every admin page.

In order: the client's network (``ADMIN_ALLOW``, the address after the trusted proxies;
elsewhere 404, as if there were no console), a live session (else the sign-in page), a role
(else 403), a second factor (the enrolment gate, ``gateway.console.enrolment_gate``, sends a
role holder without one to set it up first). A session a role holder opens the console with
is marked an admin session from then on (``sessions.mark_admin_session``), shown apart on the
person's own sessions page. Changes also need a fresh re-authentication
(:func:`fresh_or_reauthenticate`, ``REAUTH_WINDOW_SECONDS``): a stolen session left open on
a desk cannot disable anyone.
"""

from __future__ import annotations

import ipaddress

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from gateway.identity import roles
from gateway.identity.interventions import TooFast
from gateway.identity.sessions import is_fresh, mark_admin_session
from gateway.models import User
from gateway.web.client import client_ip, networks
from gateway.web.errors import too_many_attempts

_ALLOW = "gateway.admin.allow"


def _from_allowed_network() -> bool:
    try:
        address = ipaddress.ip_address(client_ip())
    except ValueError:
        return False
    return any(address in network for network in current_app.extensions[_ALLOW])


def require_allowed_network() -> None:
    """404 outside ``ADMIN_ALLOW``: the console, the admin API and its token endpoint alike."""
    if not _from_allowed_network():
        abort(404)


def _guard() -> Response | None:
    require_allowed_network()
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if roles.role_of(current_user.user) is None:
        abort(403)
    mark_admin_session(current_user.record)
    return None


def protect(blueprint: Blueprint) -> None:
    """Put the guard in front of every page of ``blueprint``."""
    blueprint.before_request(_guard)


def operator() -> User:
    """The signed-in operator (the guard let them in)."""
    user: User = current_user.user
    return user


def fresh_or_reauthenticate(back_to: str) -> Response | None:
    """None when the operator proved who they are within the window; else the redirect to
    re-authenticate, coming back to ``back_to`` (nothing was changed)."""
    if is_fresh(current_user.record):
        return None
    return redirect(url_for("settings.reauthenticate", next=back_to))


def too_fast(fast: TooFast) -> Response:
    """The 429 of an operator past ``ADMIN_ACTIONS_PER_MINUTE`` (nothing was changed)."""
    minutes = max(1, round(fast.retry_after / 60))
    page = render_template(
        "error.html", status=429,
        message=f"Too many changes in a minute: nothing was changed. Try again in about "
                f"{minutes} minute{'s' * (minutes != 1)}.")
    return too_many_attempts(page, fast.retry_after)


def init_app(app: Flask) -> None:
    app.extensions[_ALLOW] = networks(app.config["ADMIN_ALLOW"])
