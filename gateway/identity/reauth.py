"""Re-authentication: a timestamped freshness window before sensitive changes.

A confirmation that passes opens the window (``sessions.reauthenticated``, which commits); one
that is refused goes through :func:`refused`. Both commit once, so the settings page commits
nothing itself (``gateway/db.py``: one unit of work per request).

When the window lapses while a form is being filled in, the POST that finds it stale keeps
what was typed (only the fields its view names in ``keep``: never a password or a code list,
so no secret sits in the browser's readable session cookie) as a *draft* for the page the form
is on, and sends the person to confirm it is them, then back to that page, where the forms
fill themselves from the draft once (``gateway/console/forms.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import current_app, g, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from gateway.db import db
from gateway.identity import audit, throttle
from gateway.identity.sessions import is_fresh
from gateway.models import User

DRAFT = "reauth_draft"
#: How long a draft waits for its page (a person who gave up does not find it days later).
DRAFT_SECONDS = 900
#: Form fields that are never secrets worth keeping nor typed by the person.
_NOT_TYPED = {"csrf_token", "next"}


def fresh_login_required(
    view: Callable[..., Any] | None = None, *, keep: Iterable[str] = ()
) -> Any:
    """Send the person to confirm their password (and 2FA) unless they did so recently; a
    stale POST keeps its ``keep`` fields as a draft for the page it came from."""
    kept = tuple(keep)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=_page()))
            if not is_fresh(current_user.record):
                page = _page()
                if request.method not in ("GET", "HEAD"):
                    _keep_draft(page, kept)
                return redirect(url_for("settings.reauthenticate", next=page))
            return view(*args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def _page() -> str:
    """The page to come back to: this address when it answers GET, else the nearest enclosing
    one that does (a passkey's ``…/rename`` answers only POST: back to its list)."""
    path = request.path
    adapter = current_app.url_map.bind("")
    while path not in ("", "/"):
        try:
            adapter.match(path, method="GET")
            return path
        except HTTPException:
            path = path.rsplit("/", 1)[0]
    return url_for("settings.overview")


def _keep_draft(page: str, keep: tuple[str, ...]) -> None:
    typed = {name: value for name, value in request.form.items(multi=False)
             if name not in _NOT_TYPED and value}
    session[DRAFT] = {
        "path": page,
        "at": int(time.time()),
        "fields": {name: value[:1000] for name, value in typed.items() if name in keep},
        "retype": any(name not in keep for name in typed),
    }


def interrupted() -> dict[str, Any] | None:
    """The draft waiting for its page, if any: what the re-authentication page explains."""
    draft = session.get(DRAFT)
    if not isinstance(draft, dict) or not isinstance(draft.get("at"), int):
        return None
    if time.time() - draft["at"] > DRAFT_SECONDS:
        session.pop(DRAFT, None)
        return None
    return draft


def draft_for_this_page() -> dict[str, str]:
    """The fields typed before re-authenticating, for every form of this GET of the page the
    draft is for (taken from the session on first use: it fills the page once)."""
    if "reauth_draft" not in g:
        draft = interrupted()
        fields: dict[str, str] = {}
        if draft is not None and request.method == "GET" and draft.get("path") == request.path:
            session.pop(DRAFT, None)
            if current_user.is_authenticated and is_fresh(current_user.record):
                fields = {str(k): str(v) for k, v in dict(draft.get("fields", {})).items()}
        g.reauth_draft = fields
    return g.reauth_draft  # type: ignore[no-any-return]


def refused(user: User, ip: str) -> None:
    """A refused confirmation: counted like a failed sign-in (the throttle's own transaction),
    audited as a failed confirmation; commits the audit row."""
    throttle.record_failure(user.email, ip)
    audit.record("login_failed", user.id, stage="reauthenticate")
    db().commit()
