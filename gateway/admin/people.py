"""People: search, a person's page, and the actions on it (each one POST with a reason).

Views parse, call one service (``gateway.identity.interventions``,
``gateway.products.linking.unlink``), and redirect back to the person's page with what
happened. Every id in a URL is random (account ids and public ids are 128-bit), and each is
looked up *within* the person named by the URL, so another person's session id is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from gateway.admin.forms import ReasonForm, RoleForm
from gateway.admin.guard import fresh_or_reauthenticate, operator, protect, too_fast
from gateway.identity import interventions, people, roles
from gateway.identity.audit import describe
from gateway.identity.interventions import NotAllowed, Refused, Sent, TooFast
from gateway.identity.roles import Action, Actor
from gateway.models import User
from gateway.products import linking
from gateway.products.table import products

bp = Blueprint("admin_people", __name__, url_prefix="/admin")
protect(bp)

#: The account-wide actions: URL slug -> (role-matrix action, service, what the page says).
ACCOUNT_ACTIONS: dict[str, tuple[Action, Callable[[Actor, User, object], Any], str]] = {
    "disable": (Action.DISABLE, interventions.disable,
                "Account disabled: its sessions ended and it cannot sign in."),
    "enable": (Action.ENABLE, interventions.enable, "Account enabled again."),
    "reset-2fa": (Action.RESET_2FA, interventions.reset_2fa,
                  "Two-factor authentication reset: the person sets up a new second factor "
                  "at the next sign-in."),
    "send-reset": (Action.SEND_RESET, interventions.send_reset, "Password reset link mailed."),
    "resend-verification": (Action.RESEND_VERIFICATION, interventions.resend_verification,
                            "Confirmation link mailed again."),
    "lift-lockout": (Action.LIFT_LOCKOUT, interventions.lift_lockout,
                     "Sign-in lock lifted."),
}

#: What the person's page asks the role matrix about, by the names the template uses.
PAGE_ACTIONS = {slug: entry[0] for slug, entry in ACCOUNT_ACTIONS.items()} | {
    "role": Action.GRANT_ROLE, "revoke_session": Action.REVOKE_SESSION,
    "forget_device": Action.FORGET_DEVICE, "unlink": Action.UNLINK,
}

_CAPPED = ("Not sent: this address has had its mails for this hour. Try again later.")


@bp.route("/")
def index() -> Response:
    return redirect(url_for("admin_people.search"))


@bp.route("/people")
def search() -> str:
    text = request.args.get("q", "")
    results = people.search(text) if text.strip() else None
    return render_template("admin/people.html", q=text[:people.QUERY_MAX], results=results)


def _person(user_id: str) -> User:
    user = people.find(user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/people/<user_id>")
def person(user_id: str) -> str:
    user = _person(user_id)
    me = operator()
    forms = {slug: ReasonForm(prefix=slug) for slug in ACCOUNT_ACTIONS}
    return render_template(
        "admin/person.html",
        profile=people.profile(user),
        describe=partial(describe, titles=products().titles()),
        titles=products().titles(),
        actions=PAGE_ACTIONS,
        forms=forms,
        row_form=ReasonForm(prefix="row"),
        role_form=RoleForm(prefix="role", role=user.role or "none"),
        can={action: interventions.allowed(me, action, user) for action in Action},
        role=roles.role_of(user),
    )


def _act(user_id: str, form: ReasonForm, work: Callable[[User, str], str | None]) -> Response:
    """The shape of every action: the person, a fresh re-authentication, the form (CSRF and
    reason), the service; a refusal is a 403 with nothing changed."""
    user = _person(user_id)
    back = url_for("admin_people.person", user_id=user.id)
    if not form.validate_on_submit():
        abort(400)
    stale = fresh_or_reauthenticate(back)
    if stale is not None:
        flash("Confirm it is you, then do that again.", "info")
        return stale
    try:
        message = work(user, form.reason.data or "")
    except NotAllowed:
        abort(403)
    except TooFast as fast:
        return too_fast(fast)
    except LookupError:
        abort(404)
    except Refused as refused:
        flash(refused.message, "error")
        return redirect(back)
    if message:
        flash(message)
    return redirect(back)


@bp.route("/people/<user_id>/<action>", methods=["POST"])
def account_action(user_id: str, action: str) -> Response:
    if action not in ACCOUNT_ACTIONS:
        abort(404)
    _, service, done = ACCOUNT_ACTIONS[action]

    def work(user: User, reason: str) -> str:
        result = service(operator(), user, reason)
        return _CAPPED if result is Sent.CAPPED else done

    return _act(user_id, ReasonForm(prefix=action), work)


@bp.route("/people/<user_id>/sessions/<public_id>/revoke", methods=["POST"])
def revoke_session(user_id: str, public_id: str) -> Response:
    def work(user: User, reason: str) -> str:
        interventions.end_session(operator(), user, public_id, reason)
        return "Session signed out."

    return _act(user_id, ReasonForm(prefix="row"), work)


@bp.route("/people/<user_id>/devices/<public_id>/forget", methods=["POST"])
def forget_device(user_id: str, public_id: str) -> Response:
    def work(user: User, reason: str) -> str:
        interventions.forget_device(operator(), user, public_id, reason)
        return "Device forgotten: it asks for the second step again."

    return _act(user_id, ReasonForm(prefix="row"), work)


@bp.route("/people/<user_id>/links/<product>/unlink", methods=["POST"])
def unlink(user_id: str, product: str) -> Response:
    def work(user: User, reason: str) -> str:
        linking.unlink(operator(), user, product, reason)
        return "Product user unlinked."

    return _act(user_id, ReasonForm(prefix="row"), work)


@bp.route("/people/<user_id>/role", methods=["POST"])
def change_role(user_id: str) -> ResponseReturnValue:
    form = RoleForm(prefix="role")

    def work(user: User, reason: str) -> str:
        role = roles.Role.parse(form.role.data)
        interventions.change_role(operator(), user, role, reason)
        return f"Role: {role.label if role else 'none'}."

    return _act(user_id, form, work)
