"""API clients, for owners: make one (its secret shown once, on the answer to the POST, never
again), see when each was last used, revoke one. Rules in ``gateway.identity.api_clients``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from gateway.admin.forms import ApiClientForm, RevokeForm
from gateway.admin.guard import fresh_or_reauthenticate, operator, protect
from gateway.identity import api_clients, roles

bp = Blueprint("admin_clients", __name__, url_prefix="/admin/clients")
protect(bp)


@bp.before_request
def _owners_only() -> None:
    if not roles.may(operator(), roles.Action.MANAGE_API_CLIENTS):
        abort(403)


def _page(form: ApiClientForm, made: tuple[str, str] | None = None) -> ResponseReturnValue:
    page = render_template("admin/clients.html", form=form, revoke=RevokeForm(),
                           clients=api_clients.listed(), made=made)
    return page, {"Cache-Control": "no-store"}


@bp.route("")
def index() -> ResponseReturnValue:
    return _page(ApiClientForm())


@bp.route("", methods=["POST"])
def create() -> ResponseReturnValue:
    form = ApiClientForm()
    if not form.validate_on_submit():
        return _page(form)
    stale = fresh_or_reauthenticate(url_for("admin_clients.index"))
    if stale is not None:
        flash("Confirm it is you, then do that again.", "info")
        return stale
    try:
        client, secret = api_clients.create(operator(), form.name.data or "", form.role.data,
                                            list(form.scopes.data or []))
    except api_clients.Invalid as invalid:
        flash(invalid.message, "error")
        return _page(form)
    return _page(ApiClientForm(formdata=None), made=(client.id, secret))


@bp.route("/<client_id>/revoke", methods=["POST"])
def revoke(client_id: str) -> Response:
    if not RevokeForm().validate_on_submit():
        abort(400)
    stale = fresh_or_reauthenticate(url_for("admin_clients.index"))
    if stale is not None:
        flash("Confirm it is you, then do that again.", "info")
        return stale
    try:
        api_clients.revoke(operator(), client_id)
    except LookupError:
        abort(404)
    flash("Client revoked: its tokens no longer work.")
    return redirect(url_for("admin_clients.index"))
