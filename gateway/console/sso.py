"""Single sign-on pages under ``/sso/``: identifier-first routing (an address at a verified
domain with a connection goes to that organization's identity provider), the choice when an
organization has several, the "your organization requires single sign-on" page, and the one
way every protocol's callback ends (:func:`signed_in_through`).

Each protocol's own routes live under ``/sso/<kind>/<connection_id>/...`` in a module of
its own (``sso_oidc``; SAML's adds its ACS and metadata routes the same way) and names its
start endpoint in :data:`START_ENDPOINTS`. Every refusal is a page saying what happened and
what to do (4xx, or 502 when the identity provider does not answer), never a 500.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from gateway.console.forms import SsoStartForm
from gateway.identity import throttle
from gateway.identity.addresses import canonical_email
from gateway.identity.sessions import current_record
from gateway.models import SsoConnection
from gateway.organizations.sso import connections
from gateway.organizations.sso.identity import SsoIdentity
from gateway.organizations.sso.signin import REFUSALS, SsoRefused, complete_sso_signin
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts
from gateway.web.return_paths import safe_return_path

bp = Blueprint("sso", __name__, url_prefix="/sso")

#: kind -> the endpoint that sends a browser to a connection of that kind (view argument
#: ``connection_id``, query ``next``).
START_ENDPOINTS = {"oidc": "sso_oidc.start", "saml": "sso_saml.start"}


def next_path() -> str:
    return safe_return_path(request.values.get("next"), default=url_for("console.home"))


def problem(message: str, status: int = 400, *, email: str | None = None) -> tuple[str, int]:
    """The page of a refused or failed single sign-on: what happened, and the ways on."""
    return render_template("sso/problem.html", message=message, email=email,
                           status=status), status


def refused_page(refused: SsoRefused, status: int) -> ResponseReturnValue:
    """The page of ``refused``: its message with ``status``, or the 429 once the client
    address is past its bound of refusals (``signin.refuse``)."""
    if refused.retry_after is not None:
        return throttled(refused.retry_after)
    return problem(refused.message, status)


def throttled(retry_after: int) -> Response:
    page, _ = problem(retry_message(retry_after), 429)
    return too_many_attempts(page, retry_after)


def too_many_refusals() -> Response | None:
    """The 429 for a client address past its bound of refused answers, before any work (no
    connection looked up, no answer read, no audit row); None when it may go on."""
    blocked = throttle.refused_blocked(REFUSALS, client_ip())
    return throttled(blocked.retry_after) if blocked is not None else None


def continue_to(url: str) -> str:
    """The page that moves on to ``url`` (an identity provider's start) by itself. A form
    (the sign-in page, ``/sso/start``) cannot redirect there: browsers hold the redirect
    chain of a form to the Content-Security-Policy's ``form-action 'self'``."""
    return render_template("sso/continue.html", url=url)


def start_url(connection: SsoConnection, next_to: str, reauth: bool = False) -> str | None:
    """Where a browser goes to sign in through ``connection`` (None: its kind has no
    sign-in in this build); ``reauth``: to confirm it is the person (query ``reauth=1``)."""
    endpoint = START_ENDPOINTS.get(connection.kind)
    if endpoint is None or endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, connection_id=connection.id, next=next_to,
                   reauth="1" if reauth else None)


def route_for(email: object, next_to: str) -> str | None:
    """Identifier-first: where the sign-in of ``email`` goes, when its domain has single
    sign-on (the start of its one connection, or the choice among several); else None."""
    address = canonical_email(email) if isinstance(email, str) else None
    if address is None:
        return None
    found = connections.connections_for_domain(address.rsplit("@", 1)[1])
    if len(found) == 1:
        return start_url(found[0], next_to)
    if found:
        return url_for("sso.start", email=address, next=next_to)
    return None


@bp.route("/start", methods=["GET", "POST"])
def start() -> ResponseReturnValue:
    """``/sso/start?email=``: the identity provider of that address's organization (or the
    choice among its connections); a form asking the address when none is given."""
    form = SsoStartForm(meta={"csrf": False})
    to = next_path()
    raw = request.values.get("email")
    if raw is None:
        return render_template("sso/start.html", form=form, next=to)
    address = canonical_email(raw)
    if address is None:
        form.email.errors = ["Enter your work email address, like name@example.com."]
        return render_template("sso/start.html", form=form, next=to), 400
    found = connections.connections_for_domain(address.rsplit("@", 1)[1])
    reauth = request.values.get("reauth") == "1"
    choices = [(c, url) for c in found if (url := start_url(c, to, reauth)) is not None]
    if not choices:
        return problem("Single sign-on is not set up for addresses at that domain. Sign in "
                       "with your password instead.", 404, email=address)
    if len(choices) == 1:
        return continue_to(choices[0][1])
    return render_template("sso/choose.html", choices=choices, email=address)


@bp.get("/required")
def required() -> ResponseReturnValue:
    """Where a password or passkey sign-in of an account under enforced single sign-on
    lands (``gateway.identity.signin.finish``)."""
    return render_template("sso/required.html", form=SsoStartForm(meta={"csrf": False}),
                           next=next_path()), 403


def signed_in_through(identity: SsoIdentity, connection: SsoConnection,
                      next_to: str, *, reauth: bool = False) -> ResponseReturnValue:
    """Every protocol's callback ends here: the session (or, for ``reauth``, the browser's
    session confirmed), or the page saying why not."""
    record = current_record() if reauth else None
    try:
        return complete_sso_signin(identity, connection,
                                   safe_return_path(next_to, default=url_for("console.home")),
                                   reauthenticating=record)
    except SsoRefused as refused:
        return refused_page(refused, 403)


def found_connection(connection_id: str, kind: str) -> SsoConnection | Response:
    """The enabled connection of ``kind`` a protocol route names, or the page saying there
    is none (404)."""
    connection = connections.find(connection_id)
    if connection is None or connection.kind != kind or not connection.enabled:
        page, status = problem("There is no such single sign-on connection, or it is off.", 404)
        return Response(page, status, mimetype="text/html")
    return connection
