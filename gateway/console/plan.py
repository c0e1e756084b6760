"""The Console plan (Console Trial or Console Unlimited) and the upgrade page.

No payment integration: upgrading is a confirmation step and an audit entry. Product users
created from the Console stay on the products' free plan whatever the Console plan is.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from gateway.console.forms import ActionForm
from gateway.identity.plans import upgrade_plan

bp = Blueprint("plan", __name__, url_prefix="/upgrade")

#: Stored plan value -> the name people see (the product's plan names).
PLAN_NAMES = {"trial": "Console Trial", "upgraded": "Console Unlimited"}
PLANS = {
    "trial": "Every product on its free plan; the Console with trial limits.",
    "upgraded": "The Console without trial limits; every product still on its free plan.",
}


@bp.app_template_filter("plan_name")
def plan_name(plan: str) -> str:
    """The name people see for a stored plan value, on every page that names the plan."""
    return PLAN_NAMES.get(plan, plan)


@bp.route("", methods=["GET", "POST"])
@login_required
def upgrade() -> ResponseReturnValue:
    user = current_user.user
    form = ActionForm()
    if request.method == "GET":
        return render_template(
            "console/upgrade.html", user=user, plans=PLANS, names=PLAN_NAMES, form=form
        )
    if not form.validate_on_submit():
        abort(400)
    if upgrade_plan(user):
        flash(f"You are on {PLAN_NAMES['upgraded']} now.", "success")
    return redirect("/settings")
