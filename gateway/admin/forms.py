"""The operator console's forms; every change carries a CSRF token and a reason."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from gateway.identity.interventions import REASON_MAX
from gateway.identity.roles import Role


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
