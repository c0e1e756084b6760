"""Passkeys (WebAuthn): registration and authentication ceremonies around py_webauthn.

Every check of an authenticator's response (client data type, challenge, origin, RP id hash,
user presence and verification flags, attestation, signature) is the library's
(``webauthn.verify_registration_response`` / ``verify_authentication_response``); this module
keeps what the library leaves to the relying party:

* **Relying party**: the RP id and origin come from configuration (``WEBAUTHN_RP_ID`` /
  ``WEBAUTHN_ORIGIN``, else derived from ``PUBLIC_URL``); a response made for another origin or
  RP id is refused by the library. :func:`check_configuration` refuses settings that cannot work.
* **Challenges** (``passkey_challenges``): random, single use (spent by the first response that
  names them, whatever its fate), short-lived (``WEBAUTHN_CHALLENGE_SECONDS``), bound to the
  browser session that asked (a random value in its cookie; only its SHA-256 is stored) and to
  a purpose (register, passwordless sign-in, second factor, re-authentication) and a user.
* **Credentials** (``passkey_credentials``): looked up by id, owned by one user; the signature
  counter must go up (when either side counts): one that does not is refused and audited as a
  possibly cloned authenticator. The counter is compared here, after the library verified the
  signature, so only a genuinely signed regression is recorded.
* **amr** (RFC 8176) for the session: :func:`amr`.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import webauthn
from flask import current_app, session
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from webauthn.helpers import bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from gateway.db import db
from gateway.identity import audit
from gateway.models import PasskeyChallenge, PasskeyCredential, User, utcnow

RP_NAME = "Unified Login"
#: Longest credential JSON accepted from a browser (a response is a few kilobytes at most).
MAX_RESPONSE_CHARS = 64 * 1024
_BINDING_KEY = "webauthn_binding"


class Purpose(enum.StrEnum):
    REGISTER = "register"
    LOGIN = "login"  # passwordless: discoverable credential, user verification required
    SECOND_FACTOR = "second-factor"  # after the password
    REAUTH = "reauth"  # re-authentication before sensitive changes
    RESET = "reset"  # the second factor of a password reset (with the mailed link)


#: Where the passkey comes after another factor (password, mailbox): presence is enough.
_SECOND_FACTORS = (Purpose.SECOND_FACTOR, Purpose.RESET)


class Refusal(enum.StrEnum):
    MALFORMED = "malformed"
    CHALLENGE = "challenge"  # unknown, spent, expired, another session's or another purpose's
    UNKNOWN_CREDENTIAL = "unknown_credential"
    VERIFICATION = "verification"  # origin, RP id, flags, signature (the library's checks)
    COUNTER = "counter_regression"
    DUPLICATE = "duplicate"


class PasskeyRefused(Exception):
    def __init__(self, refusal: Refusal, detail: str = "", user: User | None = None) -> None:
        super().__init__(f"{refusal}: {detail}")
        self.refusal = refusal
        self.detail = detail[:200]
        self.user = user


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def relying_party(config: Any = None) -> RelyingParty | None:
    """The RP id and origin, or None when passkeys cannot work (the host is an IP address)."""
    config = config if config is not None else current_app.config
    public = urlsplit(str(config["PUBLIC_URL"]))
    host = (public.hostname or "").lower()
    rp_id = str(config.get("WEBAUTHN_RP_ID") or host).lower()
    origin = str(config.get("WEBAUTHN_ORIGIN") or f"{public.scheme}://{public.netloc}").lower()
    if not rp_id or _is_ip(rp_id):
        return None
    return RelyingParty(rp_id, origin.rstrip("/"))


def check_configuration(config: Any) -> None:
    """Refuse settings whose passkeys no browser would accept (raised at start-up)."""
    explicit = config.get("WEBAUTHN_RP_ID") or config.get("WEBAUTHN_ORIGIN")
    rp = relying_party(config)
    if rp is None:
        if explicit:
            raise ValueError("WEBAUTHN_RP_ID must be a domain name, not an IP address")
        return
    origin = urlsplit(rp.origin)
    host = origin.hostname or ""
    if origin.scheme not in ("https", "http") or not host or origin.path:
        raise ValueError(f"WEBAUTHN_ORIGIN {rp.origin!r} is not scheme://host[:port]")
    if host != rp.id and not host.endswith("." + rp.id):
        raise ValueError(
            f"WEBAUTHN_RP_ID {rp.id!r} is neither the origin's host {host!r} nor a parent of it"
        )


def enabled() -> bool:
    return relying_party() is not None


def _rp() -> RelyingParty:
    rp = relying_party()
    if rp is None:
        raise PasskeyRefused(Refusal.VERIFICATION, "passkeys need a domain name")
    return rp


def _digest(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(raw).hexdigest()


def _binding() -> str:
    """SHA-256 of this browser session's random WebAuthn binding (created on first use)."""
    token = session.get(_BINDING_KEY)
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        session[_BINDING_KEY] = token
    return _digest(token)


def bind_browser() -> None:
    """Give this browser session its WebAuthn binding now, with the page that will ask for
    passkey options: the options request then changes no cookie. Otherwise the login page's
    autofill request (started as the page loads) answered with a new session cookie, and a
    quick submit of the password form could see that answer land after its own and lose the
    sign-in it had just started (the second step bounced back to /login)."""
    if enabled():
        _binding()


def _new_challenge(purpose: Purpose, user: User | None) -> bytes:
    """A fresh challenge for this session; earlier unspent ones of the same purpose die."""
    binding = _binding()
    now = utcnow()
    db().execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    db().execute(
        delete(PasskeyChallenge).where(
            PasskeyChallenge.binding == binding, PasskeyChallenge.purpose == purpose.value
        )
    )
    challenge = secrets.token_bytes(32)
    lifetime = timedelta(seconds=int(current_app.config["WEBAUTHN_CHALLENGE_SECONDS"]))
    db().add(
        PasskeyChallenge(
            id=_digest(challenge),
            purpose=purpose.value,
            binding=binding,
            user_id=user.id if user else None,
            expires_at=now + lifetime,
        )
    )
    return challenge


def _spend_challenge(client_data_json: bytes, purpose: Purpose, user: User | None) -> bytes:
    """The challenge this response signed, spent now; PasskeyRefused unless it was issued to
    this session, for this purpose (and user), is unexpired and was never spent before."""
    try:
        challenge = parse_client_data_json(client_data_json).challenge
    except Exception:  # noqa: BLE001 - any malformed client data is the client's error
        raise PasskeyRefused(Refusal.MALFORMED, "clientDataJSON") from None
    token = session.get(_BINDING_KEY)
    if not isinstance(token, str):
        raise PasskeyRefused(Refusal.CHALLENGE, "no challenge was issued to this session")
    spent = db().execute(
        update(PasskeyChallenge)
        .where(
            PasskeyChallenge.id == _digest(challenge),
            PasskeyChallenge.binding == _digest(token),
            PasskeyChallenge.purpose == purpose.value,
            PasskeyChallenge.used_at.is_(None),
            PasskeyChallenge.expires_at >= utcnow(),
        )
        .values(used_at=utcnow())
    )
    if int(spent.rowcount or 0) != 1:  # type: ignore[attr-defined]
        raise PasskeyRefused(Refusal.CHALLENGE, "unknown, spent, expired or another session's")
    row = db().get(PasskeyChallenge, _digest(challenge))
    if row is None or row.user_id != (user.id if user else None):
        raise PasskeyRefused(Refusal.CHALLENGE, "issued for another account")
    return challenge


def _descriptor(credential: PasskeyCredential) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in filter(None, credential.transports.split(",")):
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(
        id=webauthn.base64url_to_bytes(credential.credential_id), transports=transports or None
    )


def _timeout_ms() -> int:
    return int(current_app.config["WEBAUTHN_CHALLENGE_SECONDS"]) * 1000


def registration_options(user: User) -> str:
    """Options for ``navigator.credentials.create()`` (JSON): a discoverable credential, so
    it also signs in without a password; "none" attestation; the user's passkeys excluded."""
    rp = _rp()
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=user.id.encode(),  # random (uuid4 hex), nothing personal
        user_name=user.email,
        user_display_name=user.email,
        challenge=_new_challenge(Purpose.REGISTER, user),
        timeout=_timeout_ms(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[_descriptor(c) for c in user.passkeys],
    )
    db().commit()  # the challenge is the use case's one write
    return webauthn.options_to_json(options)


def authentication_options(purpose: Purpose, user: User | None) -> str:
    """Options for ``navigator.credentials.get()`` (JSON). Passwordless sign-in lists no
    credentials (the authenticator offers its discoverable ones) and requires user
    verification; re-authentication requires it too; a second factor (after the password, or
    a reset's after the mailed link) prefers it."""
    rp = _rp()
    verification = (
        UserVerificationRequirement.PREFERRED
        if purpose in _SECOND_FACTORS
        else UserVerificationRequirement.REQUIRED
    )
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=_new_challenge(purpose, user),
        timeout=_timeout_ms(),
        allow_credentials=[_descriptor(c) for c in user.passkeys] if user else None,
        user_verification=verification,
    )
    db().commit()  # the challenge is the use case's one write
    return webauthn.options_to_json(options)


def _parse(raw: str) -> dict[str, Any]:
    if not raw or len(raw) > MAX_RESPONSE_CHARS:
        raise PasskeyRefused(Refusal.MALFORMED, "empty or too long")
    try:
        data = json.loads(raw)
    except ValueError:
        raise PasskeyRefused(Refusal.MALFORMED, "not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
        raise PasskeyRefused(Refusal.MALFORMED, "not a credential")
    return data


def _b64(data: dict[str, Any], key: str) -> bytes:
    value = data.get(key)
    if not isinstance(value, str):
        raise PasskeyRefused(Refusal.MALFORMED, key)
    try:
        return webauthn.base64url_to_bytes(value)
    except Exception:  # noqa: BLE001 - not base64url
        raise PasskeyRefused(Refusal.MALFORMED, key) from None


#: What :func:`checked_name` asks of a passkey name, as the pages say it.
NAME_RULE = "A passkey name is 1 to 64 printable characters, without line breaks."


class BadName(ValueError):
    """A passkey name :func:`checked_name` refuses (the message is :data:`NAME_RULE`)."""


def checked_name(name: str, default: str | None = None) -> str:
    """The one check of a passkey name, when adding and when renaming: trimmed, 1 to 64
    characters, all printable (``str.isprintable``: no line breaks, control, format or bidi
    characters; the name is shown on pages and quoted in security notices). Blank gives
    ``default`` when there is one."""
    name = name.strip() or (default or "")
    if not name or len(name) > 64 or not name.isprintable():
        raise BadName(NAME_RULE)
    return name


def register(user: User, raw: str, name: str) -> PasskeyCredential:
    """Verify a ``navigator.credentials.create()`` response and store the passkey (the caller
    commits, also on refusal: the challenge is spent). BadName before anything is spent."""
    name = checked_name(name, default="Passkey")
    rp = _rp()
    data = _parse(raw)
    challenge = _spend_challenge(_b64(data["response"], "clientDataJSON"), Purpose.REGISTER, user)
    try:
        verified = webauthn.verify_registration_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(Refusal.VERIFICATION, str(exc), user) from None
    transports = data["response"].get("transports")
    known = {t.value for t in AuthenticatorTransport}
    credential = PasskeyCredential(
        user_id=user.id,
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        transports=",".join(t for t in transports if t in known)[:128]
        if isinstance(transports, list)
        else "",
        multi_device=verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE,
    )
    try:
        with db().begin_nested():
            db().add(credential)
    except IntegrityError:
        raise PasskeyRefused(Refusal.DUPLICATE, "already registered", user) from None
    user.passkeys.append(credential)
    audit.record("passkey_added", user.id, passkey=credential.name)
    return credential


@dataclass(frozen=True)
class Authenticated:
    credential: PasskeyCredential
    user_verified: bool

    @property
    def user(self) -> User:
        return self.credential.user


def authenticate(purpose: Purpose, raw: str, user: User | None = None) -> Authenticated:
    """Verify a ``navigator.credentials.get()`` response for ``purpose`` (``user`` is the
    account expected for the second factor and re-authentication; None for passwordless).
    The caller commits, also on refusal (the challenge is spent, a regression is audited)."""
    rp = _rp()
    data = _parse(raw)
    response = data["response"]
    challenge = _spend_challenge(_b64(response, "clientDataJSON"), purpose, user)
    credential_id = bytes_to_base64url(_b64(data, "rawId"))
    credential = db().scalars(
        select(PasskeyCredential).where(PasskeyCredential.credential_id == credential_id[:1400])
    ).first()
    if credential is None or (user is not None and credential.user_id != user.id):
        raise PasskeyRefused(Refusal.UNKNOWN_CREDENTIAL, "not a passkey of this account", user)
    owner = credential.user
    handle = response.get("userHandle")
    if handle and _b64(response, "userHandle") != owner.id.encode():
        raise PasskeyRefused(Refusal.UNKNOWN_CREDENTIAL, "user handle does not match", owner)
    try:
        verified = webauthn.verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=credential.public_key,
            credential_current_sign_count=0,  # compared below, once the signature is verified
            require_user_verification=purpose not in _SECOND_FACTORS,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(Refusal.VERIFICATION, str(exc), owner) from None
    stored, seen = credential.sign_count, verified.new_sign_count
    if (stored > 0 or seen > 0) and seen <= stored:
        audit.record(
            "passkey_counter_regression", owner.id, passkey=credential.name,
            stored=stored, presented=seen,
        )
        raise PasskeyRefused(Refusal.COUNTER, f"counter {seen} after {stored}", owner)
    credential.sign_count = seen
    credential.last_used_at = utcnow()
    credential.multi_device = (
        verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE
    )
    return Authenticated(credential, bool(verified.user_verified))


def amr(result: Authenticated, *, password: bool) -> list[str]:
    """RFC 8176 methods for a sign-in with a passkey (the session's ``auth_methods``).

    ``hwk`` (proof of possession of a hardware-secured key) for a passkey bound to one
    authenticator, ``swk`` (software-secured key) for a synced one (backup eligible: its key
    leaves the device); ``user`` because the authenticator tested presence (always required);
    ``mfa`` when two factors were used: the password plus the passkey, or the passkey with the
    authenticator's own user verification (PIN or biometric; which one is not knowable).
    """
    key = "swk" if result.credential.multi_device else "hwk"
    methods = (["pwd"] if password else []) + [key, "user"]
    if password or result.user_verified:
        methods.append("mfa")
    return methods


def rename(credential: PasskeyCredential, name: str) -> None:
    """Give the passkey a new name (BadName: refused, nothing changed)."""
    credential.name = checked_name(name)


def find(user: User, public_id: str) -> PasskeyCredential | None:
    if not public_id.isascii() or not public_id.isalnum():
        return None
    return next((c for c in user.passkeys if c.public_id == public_id[:32]), None)


def remove(user: User, credential: PasskeyCredential, **detail: object) -> bool:
    """Remove ``credential``, audited with ``detail``; True when it was the last second
    factor, so 2FA is off now (audited too) and its recovery codes are deleted: codes belong
    to 2FA, not to one factor (``gateway.identity.factors``), and must not outlive it, on the
    settings page or at a password reset alike. The caller tells the person and commits."""
    user.passkeys.remove(credential)
    db().delete(credential)
    audit.record("passkey_removed", user.id, passkey=credential.name, **detail)
    if user.has_second_factor:
        return False
    user.recovery_codes = []
    audit.record("2fa_disabled", user.id, factor="passkey", **detail)
    return True
