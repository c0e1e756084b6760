"""OpenID Connect routes of a connection, under ``/sso/oidc/<connection_id>/``: ``start``
(to the identity provider) and ``callback`` (its redirect URI). The protocol is
``gateway.organizations.sso.oidc``; the sign-in that follows is the one every protocol
shares (``sso.signed_in_through``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, session, url_for
from flask import request as http_request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from gateway.console.sso import (
    found_connection,
    next_path,
    problem,
    refused_page,
    signed_in_through,
    too_many_refusals,
)
from gateway.organizations.sso import connections, oidc
from gateway.organizations.sso.signin import refuse

bp = Blueprint("sso_oidc", __name__, url_prefix="/sso/oidc")

UNAVAILABLE = ("Your organization's identity provider did not answer ({}). Try again in a "
               "few minutes; if it keeps failing, tell your organization's administrators.")


def redirect_uri(connection_id: str) -> str:
    """The callback to register at the identity provider (shown on the connection's page)."""
    path = url_for("sso_oidc.callback", connection_id=connection_id)
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path


@bp.get("/<connection_id>/start")
def start(connection_id: str) -> ResponseReturnValue:
    connection = found_connection(connection_id, "oidc")
    if isinstance(connection, Response):
        return connection
    try:
        url = oidc.begin(connection.id, connections.settings(connection),
                         redirect_uri(connection.id), next_path(), session,
                         reauth=http_request.args.get("reauth") == "1")
    except oidc.IdpUnavailable as failure:
        return problem(UNAVAILABLE.format(failure), 502)
    return redirect(url)


@bp.get("/<connection_id>/callback")
def callback(connection_id: str) -> ResponseReturnValue:
    if (throttled := too_many_refusals()) is not None:
        return throttled
    connection = found_connection(connection_id, "oidc")
    if isinstance(connection, Response):
        return connection
    answer = {key: value for key, value in http_request.args.items()
              if key in ("code", "state", "error", "iss")}
    try:
        done = oidc.complete(connection.id, connections.settings(connection),
                             redirect_uri(connection.id), answer, session)
    except oidc.FlowRefused as refused:
        return refused_page(refuse(connection, refused.reason, refused.message), 400)
    except oidc.IdpUnavailable as failure:
        return problem(UNAVAILABLE.format(failure), 502)
    return signed_in_through(done.identity, connection, done.next_path, reauth=done.reauth)
