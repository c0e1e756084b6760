"""What an operator does to someone else's account, each with a reason: disable, enable,
reset 2FA, send a reset mail, resend verification, lift a lockout, end a session, forget a
remembered device, grant or revoke a role.

Every action asks :func:`gateway.identity.roles.may_act_on` first and changes nothing when
refused (:class:`NotAllowed`); nobody acts on their own account here (their settings pages do
that). Each is audited with the operator (``actor_id``), the reason and the address, commits
once, and mails the person a notice that names the action, never the operator (the reason
stays in the audit log: it may name a ticket or a suspicion). Unlinking a product is in
``gateway.products.linking.unlink``, through the same :func:`authorise`.
"""

from __future__ import annotations

import enum
import unicodedata

from flask import current_app
from sqlalchemy import delete, select

from gateway.db import db
from gateway.identity import audit, devices, recovery, roles, signup, throttle
from gateway.identity.mail import send_mail
from gateway.identity.roles import Action, Actor
from gateway.identity.sessions import revoke, revoke_all
from gateway.models import LoginSession, PasskeyCredential, RecoveryCode, User, utcnow
from gateway.web import support

REASON_MAX = 500


class NotAllowed(Exception):
    """The operator's role does not allow this action on this account."""


class Refused(Exception):
    """The action cannot be done as asked (no reason, nothing to do); ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooFast(Exception):
    """The operator (or API client) acted more than ``ADMIN_ACTIONS_PER_MINUTE`` times this
    minute; nothing was changed. ``retry_after`` seconds until the next minute."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Sent(enum.Enum):
    """A mail an operator asked for: queued, or held back by the per-recipient cap."""

    QUEUED = "queued"
    CAPPED = "capped"


def checked_reason(reason: object) -> str:
    """The reason as stored: 1 to ``REASON_MAX`` characters, control and format characters
    made spaces, runs of spaces one (it goes to logs and CSV exports)."""
    if not isinstance(reason, str):
        raise Refused("Give a reason.")
    text = " ".join(
        "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in reason).split()
    )
    if not text:
        raise Refused("Give a reason.")
    if len(text) > REASON_MAX:
        raise Refused(f"Keep the reason under {REASON_MAX} characters.")
    return text


def allowed(actor: Actor, action: Action, target: User) -> bool:
    """Whether ``actor`` may do ``action`` to ``target`` here (never to themselves)."""
    if action is not Action.READ and actor.id == target.id:
        return False
    return roles.may_act_on(actor, action, target)


def authorise(actor: Actor, action: Action, target: User | None, reason: object) -> str:
    """The checked reason, once ``actor`` may do ``action`` to ``target`` (None: an action on
    no account, such as the policy) (else NotAllowed), and is within its rate (else TooFast).

    The rate is counted here, before anything changes, per actor (an operator's account id,
    an API client's id: ``ADMIN_ACTIONS_PER_MINUTE``): a stolen operator session or client
    secret cannot disable or reset thousands of accounts in a loop. Refused and malformed
    requests count too (they cost the same to try)."""
    permitted = roles.may(actor, action) if target is None else allowed(actor, action, target)
    blocked = throttle.per_actor("admin_action", actor.id, 60,
                                 current_app.config["ADMIN_ACTIONS_PER_MINUTE"])
    if not permitted:
        raise NotAllowed(action.value)
    if blocked is not None:
        raise TooFast(blocked.retry_after)
    return checked_reason(reason)


def _notice(target: User, subject: str, what: str) -> None:
    send_mail(target.email, subject,
              f"{what}\n\nIf you did not expect this, contact support. {support.mail_line()}",
              notice=True)


def disable(actor: Actor, target: User, reason: object) -> int:
    """No sign-in and no session anywhere: every session ends now, and the session check of
    the Console and of the proxy refuses the account (``sessions.is_live``). How many ended."""
    text = authorise(actor, Action.DISABLE, target, reason)
    if target.is_disabled:
        raise Refused("The account is already disabled.")
    target.disabled_at = utcnow()
    ended = revoke_all(target.id)
    audit.by_operator("account_disabled", target.id, actor.id, reason=text, sessions_ended=ended)
    _notice(target, "Your account was disabled",
            "Your Unified Login account was disabled by the site's support team: it can no "
            "longer sign in, and its sessions were signed out.")
    db().commit()
    return ended


def enable(actor: Actor, target: User, reason: object) -> None:
    text = authorise(actor, Action.ENABLE, target, reason)
    if not target.is_disabled:
        raise Refused("The account is not disabled.")
    target.disabled_at = None
    audit.by_operator("account_enabled", target.id, actor.id, reason=text)
    _notice(target, "Your account was enabled again",
            "Your Unified Login account was enabled again by the site's support team: you can "
            "sign in.")
    db().commit()


def reset_2fa(actor: Actor, target: User, reason: object) -> int:
    """Someone lost every second factor and proved who they are to support: the authenticator
    key, every passkey and every recovery code go, sessions end, and the next sign-in (with
    the password) must set up a new second factor first. How many sessions ended."""
    text = authorise(actor, Action.RESET_2FA, target, reason)
    target.totp_secret = None
    target.totp_enabled_at = None
    target.totp_last_step = None
    target.must_enrol_2fa = True
    removed = len(target.passkeys)
    db().execute(delete(PasskeyCredential).where(PasskeyCredential.user_id == target.id))
    db().execute(delete(RecoveryCode).where(RecoveryCode.user_id == target.id))
    db().expire(target, ["passkeys", "recovery_codes"])
    ended = revoke_all(target.id)
    audit.by_operator("2fa_reset", target.id, actor.id, reason=text, passkeys_removed=removed,
                      sessions_ended=ended)
    _notice(target, "Your two-factor authentication was reset",
            "The two-factor authentication of your Unified Login account was reset by the "
            "site's support team: the authenticator app, passkeys and recovery codes no longer "
            "work, and every session was signed out. At your next sign-in you will set up a "
            "new second factor.")
    db().commit()
    return ended


def send_reset(actor: Actor, target: User, reason: object) -> Sent:
    """The password-reset link, mailed to the account's address (never shown to the
    operator); the per-recipient mail cap still applies."""
    text = authorise(actor, Action.SEND_RESET, target, reason)
    queued = send_mail(
        target.email, "Reset your password",
        "The site's support team sent you this link to choose a new password for your "
        f"Unified Login account (it works once, for one hour):\n\n{recovery.reset_link(target)}"
        "\n\nIf you did not ask for it, ignore this message: your password stays as it is.",
    )
    audit.by_operator("reset_mail_sent", target.id, actor.id, reason=text, sent=queued)
    db().commit()
    return Sent.QUEUED if queued else Sent.CAPPED


def resend_verification(actor: Actor, target: User, reason: object) -> Sent:
    text = authorise(actor, Action.RESEND_VERIFICATION, target, reason)
    if target.is_verified:
        raise Refused("The address is already confirmed.")
    queued = signup.send_verification(target)
    audit.by_operator("verification_resent", target.id, actor.id, reason=text, sent=queued)
    db().commit()
    return Sent.QUEUED if queued else Sent.CAPPED


def lift_lockout(actor: Actor, target: User, reason: object) -> None:
    text = authorise(actor, Action.LIFT_LOCKOUT, target, reason)
    if not throttle.lift_lock(target.email):
        raise Refused("The account is not locked.")
    audit.by_operator("lockout_lifted_by_support", target.id, actor.id, reason=text)
    _notice(target, "You can sign in again",
            "The pause on signing in to your Unified Login account (after repeated wrong "
            "passwords) was lifted by the site's support team.")
    db().commit()


def end_session(actor: Actor, target: User, public_id: str, reason: object) -> None:
    """End one session of ``target`` (a public id of someone else's is not found)."""
    text = authorise(actor, Action.REVOKE_SESSION, target, reason)
    record = db().scalars(select(LoginSession).where(
        LoginSession.user_id == target.id, LoginSession.public_id == public_id[:32],
        LoginSession.revoked_at.is_(None))).first()
    if record is None:
        raise LookupError(public_id)
    revoke(record)
    audit.by_operator("session_revoked", target.id, actor.id, reason=text,
                      session=record.public_id)
    db().commit()


def forget_device(actor: Actor, target: User, public_id: str, reason: object) -> None:
    text = authorise(actor, Action.FORGET_DEVICE, target, reason)
    if not devices.forget(target.id, public_id):
        raise LookupError(public_id)
    audit.by_operator("device_forgotten", target.id, actor.id, reason=text, device=public_id)
    db().commit()


def change_role(actor: Actor, target: User, role: roles.Role | None, reason: object) -> None:
    """An owner grants (or with None revokes) a role; the holder must then have a second
    factor (``roles.must_enrol``)."""
    text = authorise(actor, Action.GRANT_ROLE, target, reason)
    roles.set_role(target, role, actor.id, text)
    db().commit()
