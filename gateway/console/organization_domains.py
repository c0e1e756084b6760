"""An organization's verified domains and managed accounts (owners only), under
``/organizations/<id>/``: add a domain, verify it by DNS, remove it; see the accounts at
verified domains and confirm bringing them under the organization.

Refusals map as on every organization page (``organizations.answer``). Each change needs a
fresh re-authentication: these decide whose accounts the organization governs.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.wrappers import Response

from gateway.console.forms import ActionForm, DomainForm, ManageAccountsForm
from gateway.console.organizations import Done, answer, owned, page_of, stale, viewer
from gateway.organizations import domains, managed

bp = Blueprint("organization_domains", __name__, url_prefix="/organizations")


@bp.post("/<organization_id>/domains")
@login_required
def add(organization_id: str) -> Response:
    form = DomainForm()
    if not form.validate_on_submit():
        abort(400)
    back = page_of(organization_id)

    def work() -> Done:
        row = domains.add(viewer(), organization_id, form.domain.data)
        return f"{row.domain} added: publish the TXT record shown, then verify.", None

    return stale(back) or answer(back, work)


@bp.post("/<organization_id>/domains/<domain_id>/verify")
@login_required
def verify(organization_id: str, domain_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    back = page_of(organization_id)

    def work() -> Done:
        row = domains.verify(viewer(), organization_id, domain_id)
        return f"{row.domain} is verified.", None

    return stale(back) or answer(back, work)


@bp.post("/<organization_id>/domains/<domain_id>/remove")
@login_required
def remove(organization_id: str, domain_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    back = page_of(organization_id)

    def work() -> Done:
        domains.remove(viewer(), organization_id, domain_id)
        return "Domain removed; the accounts managed through it are no longer managed.", None

    return stale(back) or answer(back, work)


@bp.route("/<organization_id>/managed", methods=["GET", "POST"])
@login_required
def manage(organization_id: str) -> ResponseReturnValue:
    org = owned(organization_id)
    form = ManageAccountsForm()
    back = request.path
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)

        def work() -> Done:
            count = managed.bring_under(viewer(), org, request.form.getlist("account"))
            return (f"{count} account{'s' if count != 1 else ''} now managed by {org.name}; "
                    "each person was mailed."), page_of(org.id)

        return stale(back) or answer(back, work)
    return render_template(
        "organizations/managed.html", org=org, form=form,
        candidates=managed.candidates(org.id), managed=managed.managed(org.id),
        verified=domains.verified(org.id),
    )
