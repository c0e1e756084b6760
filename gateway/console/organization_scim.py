"""An organization's SCIM page (owners only), ``/organizations/<id>/scim``: the address its
IdP provisions members at, and the bearer tokens it does so with: make one (its value shown
on the answer page once, never again and never in a cookie: a flashed message would be),
see when each was last used, revoke one.

Refusals map as on every organization page (``organizations.answer``). Making and revoking
a token need a fresh re-authentication: a token can create, change and turn off accounts.
The form is here rather than in ``forms`` so that this page stays one room of its own.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from gateway.console.forms import ActionForm
from gateway.console.organizations import Done, answer, owned, stale, viewer
from gateway.models import Organization
from gateway.organizations import domains, scim_tokens
from gateway.organizations.errors import Refused

bp = Blueprint("organization_scim", __name__, url_prefix="/organizations")


class ScimTokenForm(FlaskForm):
    name = StringField("Name", [DataRequired(), Length(max=scim_tokens.NAME_MAX)],
                       render_kw={"maxlength": scim_tokens.NAME_MAX},
                       description="Which identity provider uses it, e.g. Okta.")


def _page(org: Organization, form: ScimTokenForm, *, value: str | None = None,
          status: int = 200) -> ResponseReturnValue:
    base = current_app.config["PUBLIC_URL"] + url_for("scim.unknown")
    return render_template(
        "organizations/scim.html", org=org, form=form, action=ActionForm(), value=value,
        tokens=scim_tokens.of(org.id), base_url=base, verified=domains.verified(org.id),
    ), status


def _back(organization_id: str) -> str:
    return url_for("organization_scim.show", organization_id=organization_id)


@bp.get("/<organization_id>/scim")
@login_required
def show(organization_id: str) -> ResponseReturnValue:
    return _page(owned(organization_id), ScimTokenForm())


@bp.post("/<organization_id>/scim/tokens")
@login_required
def create(organization_id: str) -> ResponseReturnValue:
    org = owned(organization_id)
    form = ScimTokenForm()
    if not form.validate_on_submit():
        return _page(org, form, status=400)
    refused = stale(_back(org.id))
    if refused is not None:
        return refused
    try:
        _token, value = scim_tokens.create(viewer(), org.id, form.name.data)
    except Refused as refusal:
        form.name.errors = [refusal.message]
        return _page(org, form, status=400)
    return _page(org, ScimTokenForm(formdata=None), value=value)


@bp.post("/<organization_id>/scim/tokens/<token_id>/revoke")
@login_required
def revoke(organization_id: str, token_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    back = _back(organization_id)

    def work() -> Done:
        scim_tokens.revoke(viewer(), organization_id, token_id)
        return "Token revoked: the identity provider using it is refused from now on.", None

    return stale(back) or answer(back, work)
