"""Console forms. Every form carries a CSRF token and the standard ``autocomplete`` tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from gateway.identity.factors import Factor
from gateway.identity.passwords import MAX_LENGTH as PASSWORD_MAX
from gateway.identity.reauth import draft_for_this_page

_EMAIL = {"autocomplete": "email", "inputmode": "email", "spellcheck": "false"}


class ConsoleForm(FlaskForm):
    """A Console form: a POST fills it from the request; the GET of a page whose form was
    interrupted by re-authentication fills it from what was typed then
    (``gateway.identity.reauth``: never a secret)."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            wrapped = super().wrap_formdata(form, formdata)
            # None back for a form not given data of its own (``formdata=None`` stays empty).
            if wrapped is None and formdata is not None and request.method == "GET":
                draft = draft_for_this_page()
                return MultiDict(draft) if draft else None
            return wrapped


class ActionForm(ConsoleForm):
    """A button that changes state (logout, revoke, ...): only the CSRF token."""


class SignupForm(ConsoleForm):
    email = StringField("Email", [DataRequired(), Length(max=320)], render_kw=_EMAIL)
    password = PasswordField(
        "Password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "new-password", "minlength": 12, "maxlength": PASSWORD_MAX},
        description="At least 12 characters. Long passphrases are welcome.",
    )


class ConfirmSignupForm(ConsoleForm):
    """The verification link's page: the password chosen at sign-up, so that only the person
    who chose it *and* reads the mailbox can confirm (no pre-account hijack, CWE-640)."""

    password = PasswordField(
        "The password you chose",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "current-password"},
    )


class LoginForm(ConsoleForm):
    # "webauthn": the browser offers the person's passkeys in the field's autofill (conditional
    # mediation, gateway/static/webauthn.js).
    email = StringField(
        "Email", [DataRequired(), Length(max=320)],
        render_kw=_EMAIL | {"autocomplete": "username webauthn"},
    )
    password = PasswordField(
        "Password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class CodeForm(ConsoleForm):
    code = StringField(
        "Authentication code",
        [DataRequired(), Length(max=64)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "spellcheck": "false",
            "autocapitalize": "off",
        },
        description="The 6-digit code from your authenticator app.",
    )


_REMEMBER = "Remember this device for 30 days"
_REMEMBER_HINT = "Skips this step on this browser, never the password. Not on a shared computer."


class LoginCodeForm(CodeForm):
    """The 2FA step of a sign-in: the code, and the opt-in to remember this browser."""

    remember = BooleanField(_REMEMBER, description=_REMEMBER_HINT)


class RecoveryCodeForm(ConsoleForm):
    """A recovery code: letters and digits, so a text keyboard (the TOTP field is numeric)."""

    code = StringField(
        "Recovery code",
        [DataRequired(), Length(max=64)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "text",
            "spellcheck": "false",
            "autocapitalize": "off",
            "autocorrect": "off",
        },
        description="One of the codes you saved when you turned on two-factor "
        "authentication, like 1a2b3-c4d5e-f6a7b-c8d9e. Each works once.",
    )
    remember = BooleanField(_REMEMBER, description=_REMEMBER_HINT)


class ReauthForm(ConsoleForm):
    password = PasswordField(
        "Current password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        "Authentication code",
        [Length(max=64)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
        description="From your authenticator app (a recovery code works too).",
    )
    next = HiddenField()

    def ask_for(self, factors: Sequence[Factor]) -> None:
        """The code field asks for what the account has: the app's code, or a recovery code
        when a passkey is the everyday factor (someone who lost it confirms with one)."""
        if Factor.TOTP not in factors and Factor.RECOVERY_CODE in factors:
            ask_for_recovery_code(self.code)


def ask_for_recovery_code(field: Any) -> None:
    """Turn a code field into a recovery-code field (letters: a text keyboard)."""
    field.label.text = "Recovery code"
    field.description = "One of the codes you saved when you turned on 2FA."
    field.render_kw = {"autocomplete": "one-time-code", "inputmode": "text",
                       "spellcheck": "false", "autocapitalize": "off"}


class NewPasswordForm(ConsoleForm):
    password = PasswordField(
        "New password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "new-password", "minlength": 12, "maxlength": PASSWORD_MAX},
        description="At least 12 characters. Every other session will be signed out.",
    )


class EmailForm(ConsoleForm):
    email = StringField("Email", [DataRequired(), Length(max=320)], render_kw=_EMAIL)


class LinkExistingForm(ConsoleForm):
    """Link an existing product user: its own email and password, checked by the product."""

    email = StringField(
        "Product email", [DataRequired(), Length(max=320)],
        render_kw=_EMAIL | {"autocomplete": "username"},
    )
    password = PasswordField(
        "Product password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class CreateProductUserForm(ConsoleForm):
    """Create a new product user from the Console: only the CSRF token and the return path."""

    next = HiddenField()


class ResetPasswordForm(ConsoleForm):
    """The page a reset link opens: the new password, and a second factor when 2FA is on
    (``code``: the authenticator's code, or a recovery code with ``?use=recovery``)."""

    password = PasswordField(
        "New password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "new-password", "minlength": 12, "maxlength": PASSWORD_MAX},
        description="At least 12 characters, not your current password. Every session will "
        "be signed out.",
    )
    code = StringField("Authentication code", [Length(max=64)])


class DownloadCodesForm(ConsoleForm):
    """The codes just shown, sent back to be downloaded as a text file (nothing kept)."""

    codes = StringField(validators=[Length(max=1000)])


class OrganizationForm(FlaskForm):
    name = StringField("Organization name", [DataRequired(), Length(max=100)],
                       render_kw={"maxlength": 100, "autocomplete": "organization"})


_ORG_ROLES = [SelectChoice(r, r.title()) for r in ("member", "admin", "owner")]


class InvitationForm(FlaskForm):
    email = StringField("Email", [DataRequired(), Length(max=320)], render_kw=_EMAIL)
    role = SelectField("Role", choices=_ORG_ROLES)


class OrgRoleForm(FlaskForm):
    """A member's role; built with ``prefix=<member id>`` so each row has its own ids."""

    role = SelectField("Role", choices=_ORG_ROLES)


class DomainForm(FlaskForm):
    domain = StringField("Domain", [DataRequired(), Length(max=253)],
                         render_kw={"spellcheck": "false", "autocapitalize": "off",
                                    "maxlength": 253},
                         description="The part after the @ of your people's addresses.")


class ManageAccountsForm(FlaskForm):
    """The owner's confirmation; the addresses shown travel as ``account`` fields."""

    confirm = BooleanField("I confirm: bring these accounts under this organization and "
                           "mail each person.", [DataRequired()])


class SsoStartForm(FlaskForm):
    """Identifier-first single sign-on: the work address (a GET: no state changes)."""

    email = StringField("Work email", [DataRequired(), Length(max=320)], render_kw=_EMAIL)


class SsoConnectionForm(FlaskForm):
    """A connection's name and switch; its kind's settings are fields named by the kind
    (``gateway.organizations.sso.kinds``), read from the same POST."""

    name = StringField("Name", [DataRequired(), Length(max=100)],
                       description="What members see on the sign-in choice, like \"Okta\".")
    enabled = BooleanField("On: members can sign in through it", default=True)


class SsoPolicyForm(FlaskForm):
    enforced = BooleanField("Require single sign-on for managed accounts")
    session_max_age = SelectField("Single sign-on session lifetime", choices=[])
