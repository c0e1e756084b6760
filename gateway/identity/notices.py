"""Account notices: the mails that tell a person what just happened in their own account
(a sign-in from a new device, a recovery code used, a password changed or reset, a second
factor added, replaced or removed). Each "if this was not you" names the support route
(``gateway.web.support``): a notice that says "contact support" says where.

Each goes out as a notice (``send_mail(..., notice=True)``): only the account holder, or
whoever just got into the account, can cause one, and a spent mail cap must not let anyone
act unseen.
"""

from __future__ import annotations

from flask import current_app, url_for

from gateway.identity.mail import mail_text, send_mail
from gateway.models import KnownDevice, User, utcnow
from gateway.web import support


def _link(endpoint: str) -> str:
    return current_app.config["PUBLIC_URL"] + url_for(endpoint)


def new_sign_in(user: User, device: KnownDevice) -> None:
    when = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    send_mail(
        user.email,
        "New sign-in to your account",
        f"Your Unified Login account was just signed in to from a device it had not seen "
        f"before.\n\nDevice: {mail_text(device.name)}\nTime: about {when}\n\n"
        f"If this was you, there is nothing to do. If not, reset your password "
        f"({_link('recovery.forgot_password')}) and sign out the sessions you do not know: "
        f"{_link('settings.sessions')}",
        notice=True,
    )


def recovery_code_used(user: User, remaining: int, purpose: str) -> None:
    """``purpose`` says what for, as "to sign in" (gateway.identity.factors)."""
    send_mail(
        user.email,
        f"A recovery code was used {purpose}",
        f"A recovery code of your Unified Login account was just used {purpose}. "
        f"{remaining} unused code{'s' * (remaining != 1)} left.\n\n"
        f"Create new ones when you are running low: {_link('twofactor.confirm_new_codes')}\n\n"
        f"If this was not you, reset your password: {_link('recovery.forgot_password')}",
        notice=True,
    )


def password_changed(user: User) -> None:
    send_mail(
        user.email,
        "Your password was changed",
        "The password of your Unified Login account was just changed and your other sessions "
        "were signed out. If this was not you, reset your password now: "
        f"{_link('recovery.forgot_password')}\n\n{support.mail_line()}",
        notice=True,
    )


def password_reset(
    user: User, removed: list[str], twofactor_off: bool, stopped_email: str | None
) -> None:
    """The reset notice: what the reset ended, and the passkeys that still sign in (a reset
    does not end those: whoever added one would keep getting in), named, with the way to
    remove them. ``removed``: names of the passkeys the reset removed."""
    lines = [
        "The password of your Unified Login account was just reset from the link mailed to "
        "this address. Every session was signed out and remembered devices were forgotten."
    ]
    if stopped_email:
        lines.append(f"The pending change of your email address to {mail_text(stopped_email)} was "
                     "stopped. Ask for it again in settings if you still want it.")
    if removed:
        lines.append("Passkeys removed: " + ", ".join(f'"{mail_text(n)}"' for n in removed)
                     + ".")
    if twofactor_off:
        lines.append("That was your last second factor: two-factor authentication is now "
                     "off and its recovery codes are deleted. Turn it on again: "
                     f"{_link('settings.overview')}")
    if user.passkeys:
        names = "\n".join(f'- "{mail_text(p.name)}"' for p in user.passkeys)
        lines.append("These passkeys can still sign in to your account:\n" + names + "\n"
                     f"Remove any you do not recognise: {_link('passkeys.settings')}")
    lines.append("If this was not you, reset it again now and check your account activity: "
                 f"{_link('recovery.forgot_password')}")
    send_mail(user.email, "Your password was reset", "\n\n".join(lines), notice=True)


def second_factor_changed(user: User, subject: str, what: str, status: str) -> None:
    """A second factor was added, replaced or removed: what happened, the 2FA status after it
    (``factors.status``, passed in: that module sends notices itself), and the way out."""
    send_mail(
        user.email,
        subject,
        f"{what} Two-factor authentication: {status}.\n\n"
        "Your other sessions were signed out. If this was not you, reset your password "
        f"({_link('recovery.forgot_password')}).\n\n{support.mail_line()}",
        notice=True,
    )
