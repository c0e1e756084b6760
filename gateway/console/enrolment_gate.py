"""The enrolment gate: an account that must have a second factor sets one up before any other
Console page.

Who must (``policy.must_enrol``): an operator (any role), an account whose 2FA an operator
reset, and everyone when the owners' policy requires 2FA; "has one" means a second factor the
policy allows. Right after the password step they land on the set-up of an allowed factor (the
authenticator app, else passkeys); the passkey page, re-authentication, sign-out and the public
pages stay open so the person can finish (or leave). The admin console refuses such accounts
too (blueprints ``admin*``), and so do the products: the proxy's decision sends them here
(``Verdict.ENROL``) rather than serving them.
"""

from __future__ import annotations

from flask import Flask, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from gateway.identity import policy

#: Blueprints whose pages wait for the second factor (the rest: enrolment itself, sign-in,
#: recovery, health, keys, static files).
GATED = frozenset({"console", "settings", "devices_settings", "email_settings", "plan",
                   "linking"})
#: Pages of those blueprints that enrolment needs.
OPEN = frozenset({"settings.reauthenticate", "settings.overview"})


def _enrol_first() -> Response | None:
    blueprint = request.blueprint or ""
    if (blueprint not in GATED and not blueprint.startswith("admin")) or request.endpoint in OPEN:
        return None
    if not current_user.is_authenticated or not policy.must_enrol(current_user.user):
        return None
    flash("Set up two-factor authentication to go on: this account must have a second "
          "factor.", "info")
    return redirect(enrolment_page())


def enrolment_page() -> str:
    """The set-up page of a second factor the policy allows."""
    if policy.current().allow_totp:
        return url_for("twofactor.enable")
    return url_for("passkeys.settings")


def init_app(app: Flask) -> None:
    app.before_request(_enrol_first)
