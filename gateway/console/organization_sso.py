"""An organization's single sign-on pages (owners only), under ``/organizations/<id>/sso``:
its connections (add, change, remove), enforcement, and the lifetime of single sign-on
sessions.

Refusals map as on every organization page (``organizations.answer``). Each change needs a
fresh re-authentication: these decide who signs in as the organization's members.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.wrappers import Response

from gateway.console.forms import ActionForm, SsoConnectionForm, SsoPolicyForm
from gateway.console.organizations import Done, answer, owned, stale, viewer
from gateway.console.sso_oidc import redirect_uri
from gateway.console.sso_saml import service_provider
from gateway.models import Organization
from gateway.organizations import domains
from gateway.organizations.sso import connections, enforcement
from gateway.organizations.sso.kinds import KINDS

bp = Blueprint("organization_sso", __name__, url_prefix="/organizations")


def _page(organization_id: str) -> str:
    return url_for("organization_sso.show", organization_id=organization_id)


def _policy_form(org: Organization) -> SsoPolicyForm:
    form = SsoPolicyForm(enforced=org.sso_enforced,
                         session_max_age=str(org.sso_session_max_age or ""))
    form.session_max_age.choices = [("", "The gateway's own")] + [
        (str(seconds), words) for seconds, words in enforcement.LIFETIMES.items()]
    return form


@bp.get("/<organization_id>/sso")
@login_required
def show(organization_id: str) -> ResponseReturnValue:
    org = owned(organization_id)
    rows = connections.of(org.id)
    return render_template(
        "organizations/sso.html", org=org, connections=rows, kinds=KINDS,
        settings=connections.settings, redirect_uri=redirect_uri,
        service_provider=service_provider,
        new_forms={k: SsoConnectionForm(formdata=None, prefix=f"new-{k}") for k in KINDS},
        edit_forms={c.id: SsoConnectionForm(formdata=None, prefix=c.id, name=c.name,
                                            enabled=c.enabled) for c in rows},
        policy=_policy_form(org), action=ActionForm(), verified=domains.verified(org.id),
    )


def _kind_values(prefix: str = "") -> dict[str, str]:
    return {key.removeprefix(prefix): value for key, value in request.form.items()
            if key.startswith(prefix)}


@bp.post("/<organization_id>/sso/connections")
@login_required
def add(organization_id: str) -> Response:
    kind = request.form.get("kind", "")
    form = SsoConnectionForm(prefix=f"new-{kind}")
    if kind not in KINDS or not form.validate_on_submit():
        abort(400)
    back = _page(organization_id)

    def work() -> Done:
        row = connections.create(viewer(), organization_id, kind, form.name.data,
                                 _kind_values(f"new-{kind}-"))
        return f"Connection {row.name} added.", None

    return stale(back) or answer(back, work)


@bp.post("/<organization_id>/sso/connections/<connection_id>")
@login_required
def change(organization_id: str, connection_id: str) -> Response:
    form = SsoConnectionForm(prefix=connection_id)
    if not form.validate_on_submit():
        abort(400)
    back = _page(organization_id)

    def work() -> Done:
        row = connections.update(viewer(), organization_id, connection_id, form.name.data,
                                 bool(form.enabled.data), _kind_values(connection_id + "-"))
        return f"Connection {row.name} saved.", None

    return stale(back) or answer(back, work)


@bp.post("/<organization_id>/sso/connections/<connection_id>/remove")
@login_required
def remove(organization_id: str, connection_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    back = _page(organization_id)

    def work() -> Done:
        connections.delete(viewer(), organization_id, connection_id)
        return "Connection removed.", None

    return stale(back) or answer(back, work)


@bp.post("/<organization_id>/sso/policy")
@login_required
def policy(organization_id: str) -> Response:
    org = owned(organization_id)
    form = _policy_form(org)
    if not form.validate_on_submit():
        abort(400)
    back = _page(organization_id)

    def work() -> Done:
        enforcement.set_policy(viewer(), organization_id, bool(form.enforced.data),
                               form.session_max_age.data)
        return "Single sign-on settings saved.", None

    return stale(back) or answer(back, work)
