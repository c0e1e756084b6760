"""SAML routes of a connection, under ``/sso/saml/<connection_id>/``: ``metadata`` (the
service provider's, for the IdP's administrator), ``start`` (to the identity provider) and
``acs`` (its HTTP-POST answer). The protocol is ``gateway.organizations.sso.saml`` and
``saml_flow``; the sign-in that follows is the one every protocol shares
(``sso.signed_in_through``).

The ACS is exempt from the CSRF token (the IdP cannot know it): what binds the answer to this
browser is the request id kept in its session. A browser posting the IdP's form from the
IdP's site sends no SameSite=Lax cookie, so the first POST without a waiting sign-in is
answered with a page that posts the same form again from our own origin (``bounced``); that
page writes nothing into the session (no cookie is set on a cross-site answer).
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask import request as http_request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from gateway.console.sso import (
    found_connection,
    next_path,
    refused_page,
    signed_in_through,
    too_many_refusals,
)
from gateway.organizations.sso import connections, saml, saml_flow
from gateway.organizations.sso.saml import SamlRefused
from gateway.organizations.sso.signin import refuse
from gateway.web.csrf import csrf

bp = Blueprint("sso_saml", __name__, url_prefix="/sso/saml")


def service_provider(connection_id: str) -> saml.ServiceProvider:
    """The gateway as this connection's SP (shown on the connection's page)."""
    return saml.service_provider(str(current_app.config["PUBLIC_URL"]), connection_id)


@bp.get("/<connection_id>/metadata")
def metadata(connection_id: str) -> ResponseReturnValue:
    connection = found_connection(connection_id, "saml")
    if isinstance(connection, Response):
        return connection
    return Response(saml.sp_metadata(service_provider(connection.id)),
                    mimetype="application/samlmetadata+xml")


@bp.get("/<connection_id>/start")
def start(connection_id: str) -> ResponseReturnValue:
    connection = found_connection(connection_id, "saml")
    if isinstance(connection, Response):
        return connection
    try:
        url = saml_flow.begin(connection.id, connections.settings(connection),
                              service_provider(connection.id), next_path(), session,
                              reauth=http_request.args.get("reauth") == "1")
    except SamlRefused as refused:
        return refused_page(refuse(connection, refused.reason, refused.message), 502)
    return redirect(url)


@bp.post("/<connection_id>/acs")
@csrf.exempt
def acs(connection_id: str) -> ResponseReturnValue:
    if (throttled := too_many_refusals()) is not None:
        return throttled
    connection = found_connection(connection_id, "saml")
    if isinstance(connection, Response):
        return connection
    answer = http_request.form.get("SAMLResponse")
    if (not saml_flow.pending(session, connection.id)
            and http_request.form.get("bounced") != "1" and isinstance(answer, str)):
        return render_template("sso/saml_post.html", saml_response=answer,
                               action=url_for("sso_saml.acs", connection_id=connection.id))
    try:
        done = saml_flow.complete(connection.id, connections.settings(connection),
                                  service_provider(connection.id), answer, session)
    except SamlRefused as refused:
        return refused_page(refuse(connection, refused.reason, refused.message), 400)
    return signed_in_through(done.identity, connection, done.next_path, reauth=done.reauth)
