"""Console forms. Every form carries a CSRF token and the standard ``autocomplete`` tokens."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gateway.identity.passwords import MAX_LENGTH as PASSWORD_MAX

_EMAIL = {"autocomplete": "email", "inputmode": "email", "spellcheck": "false"}


class ActionForm(FlaskForm):
    """A button that changes state (logout, revoke, ...): only the CSRF token."""


class SignupForm(FlaskForm):
    email = StringField("Email", [DataRequired(), Length(max=320)], render_kw=_EMAIL)
    password = PasswordField(
        "Password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "new-password", "minlength": 12, "maxlength": PASSWORD_MAX},
        description="At least 12 characters. Long passphrases are welcome.",
    )


class ConfirmSignupForm(FlaskForm):
    """The verification link's page: the password chosen at sign-up, so that only the person
    who chose it *and* reads the mailbox can confirm (no pre-account hijack, CWE-640)."""

    password = PasswordField(
        "The password you chose",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "current-password"},
    )


class LoginForm(FlaskForm):
    email = StringField(
        "Email", [DataRequired(), Length(max=320)], render_kw=_EMAIL | {"autocomplete": "username"}
    )
    password = PasswordField(
        "Password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(
        "Authentication code",
        [DataRequired(), Length(max=64)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "spellcheck": "false",
            "autocapitalize": "off",
        },
        description="The 6-digit code from your authenticator app, or a recovery code.",
    )


class ReauthForm(FlaskForm):
    password = PasswordField(
        "Current password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        "Authentication code",
        [Length(max=64)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    next = HiddenField()


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        [DataRequired(), Length(max=PASSWORD_MAX * 4)],
        render_kw={"autocomplete": "new-password", "minlength": 12, "maxlength": PASSWORD_MAX},
        description="At least 12 characters. Every other session will be signed out.",
    )


class EmailForm(FlaskForm):
    email = StringField("Email", [DataRequired(), Length(max=320)], render_kw=_EMAIL)


class LinkExistingForm(FlaskForm):
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


class CreateProductUserForm(FlaskForm):
    """Create a new product user from the Console: only the CSRF token and the return path."""

    next = HiddenField()
