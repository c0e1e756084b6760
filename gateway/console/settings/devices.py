"""Remembered devices: the browsers that skip the second factor, each one revocable."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from gateway.console.forms import ActionForm
from gateway.identity import devices

bp = Blueprint("devices_settings", __name__, url_prefix="/settings/devices")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every devices page needs a live session."""


@bp.route("")
def list_devices() -> str:
    user = current_user.user
    return render_template(
        "settings/devices.html",
        devices=devices.remembered(user.id),
        current=devices.this_device(user),
        form=ActionForm(),
    )


@bp.route("/<public_id>/forget", methods=["POST"])
def forget(public_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    if not public_id.isascii() or not public_id.isalnum():
        abort(404)  # never a public id (and PostgreSQL refuses NUL in a text parameter)
    if not devices.forget_one(current_user.user.id, public_id):
        abort(404)
    flash("That device will ask for the second step again.")
    return redirect(url_for("devices_settings.list_devices"))


@bp.route("/forget-all", methods=["POST"])
def forget_all() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    devices.forget_every(current_user.user.id)
    flash("Every remembered device will ask for the second step again.")
    return redirect(url_for("devices_settings.list_devices"))
