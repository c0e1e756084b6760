"""The operator console's forms; every change carries a CSRF token and a reason."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from gateway.identity.api_clients import CEILINGS, NAME_MAX, SCOPES
from gateway.identity.interventions import REASON_MAX
from gateway.identity.roles import Role


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes (WTForms' documented recipe)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ReasonForm(FlaskForm):
    """One action's form; built with ``prefix=<action>`` so several share a page with
    distinct field ids."""

    reason = TextAreaField(
        "Reason", [DataRequired(), Length(max=REASON_MAX)],
        render_kw={"rows": 2, "maxlength": REASON_MAX},
        description="Kept in the audit log, not mailed to the person.",
    )


class RoleForm(ReasonForm):
    role = SelectField(
        "Role",
        choices=[SelectChoice("none", "No role")]
        + [SelectChoice(r.label, r.label.title()) for r in Role],
    )


class ExportForm(FlaskForm):
    """The export button (CSRF); the filters travel as plain fields beside it."""

    format = SelectField(
        "Format", choices=[SelectChoice("csv", "CSV"), SelectChoice("jsonl", "JSON Lines")]
    )


class ApiClientForm(FlaskForm):
    """A new admin API client: a name, a role ceiling, scopes."""

    name = StringField("Name", [DataRequired(), Length(max=NAME_MAX)],
                       render_kw={"maxlength": NAME_MAX},
                       description="Say who runs it, e.g. “helpdesk integration”.")
    role = SelectField("Role", choices=[SelectChoice(r.label, r.label.title()) for r in CEILINGS],
                       description="The most it may do; never more than your own role.")
    scopes = MultiCheckboxField("Scopes", choices=[SelectChoice(s, s) for s in SCOPES],
                                validators=[DataRequired()])


class RevokeForm(FlaskForm):
    """A revoke button (CSRF)."""


class PolicyForm(ReasonForm):
    """The sign-in policy; lifetimes in minutes, empty for the deployment's setting."""

    require_2fa = BooleanField("Require two-factor authentication for everyone",
                               description="People without a second factor set one up at "
                                           "their next sign-in or product visit.")
    allow_totp = BooleanField("Authenticator apps (TOTP)")
    allow_passkey = BooleanField("Passkeys")
    #: Their hints name the deployment's setting (``gateway.admin.policy``).
    idle_minutes = IntegerField("Session idle timeout (minutes)",
                                [Optional(), NumberRange(min=1, max=10**7)])
    max_minutes = IntegerField("Session maximum age (minutes)",
                               [Optional(), NumberRange(min=1, max=10**7)])
