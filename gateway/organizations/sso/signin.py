"""The sign-in an identity provider vouched for, whatever its protocol: checked against the
organization's verified domains, the account found or made, the Console session started.

Rules, in order (each refusal is :class:`SsoRefused`, audited, nothing changed):

* the connection is enabled and of a kind this build signs in with;
* the address is exactly at one of the connection's organization's *verified* domains: an
  identity provider speaks for its own organization's people only, so one of organization A
  asserting an address at organization B's domain is a takeover attempt, refused;
* an account managed by another organization, or disabled by an operator, is refused.

Then the account: none at that address -> a just-in-time account (address verified, no
password: ``""``, which no password opens), a ``member`` of the organization and managed by
it; an existing one -> brought under the organization (a member, role kept if it is one
already). An unconfirmed sign-up at that address loses its password (whoever started it did
not prove the address; the identity provider just did: no pre-account hijack).

The session's methods (``amr``) are ``fed`` (a federated sign-in, as Microsoft Entra ID
writes it; RFC 8176 registers no name for it) followed by the RFC 8176 names the identity
provider reported (``mfa``, ``otp``, ...); its ``idp`` is the identity provider's issuer;
it lives as long as the organization's single sign-on policy says, when it says.
"""

from __future__ import annotations

from flask import redirect
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from gateway.db import db
from gateway.identity import audit, throttle
from gateway.identity.addresses import canonical_email
from gateway.identity.sessions import reauthenticated
from gateway.identity.signin import FEDERATED, find_user, finish
from gateway.models import (
    NO_PASSWORD,
    LoginSession,
    Organization,
    OrganizationMember,
    SsoConnection,
    User,
    utcnow,
)
from gateway.organizations import domains
from gateway.organizations.roles import OrgRole
from gateway.organizations.sso.identity import SsoIdentity
from gateway.organizations.sso.kinds import usable
from gateway.web.client import client_ip

#: RFC 8176's registered method names: the identity provider's own are kept when they are one.
RFC8176 = frozenset({"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin",
                     "pwd", "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"})
#: ``LoginSession.auth_methods`` holds at most this many characters.
_METHODS_MAX = 64
#: The throttle's name for refused single sign-on answers (``throttle.refused_blocked``).
REFUSALS = "sso_refused"


class SsoRefused(Exception):
    """The identity provider's word is not enough here; ``message`` says why, in words.
    ``retry_after``: the client address is past its bound of refusals (answer 429)."""

    def __init__(self, reason: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


TAKEOVER = ("This identity provider cannot sign in addresses at that domain: it belongs to "
            "another organization, or its domain is not verified.")


def session_methods(identity: SsoIdentity) -> list[str]:
    methods = [FEDERATED]
    for method in identity.amr:
        if method in RFC8176 and method not in methods:
            if len(",".join([*methods, method])) > _METHODS_MAX:
                break
            methods.append(method)
    return methods


def refuse(connection: SsoConnection, reason: str, message: str, **detail: object) -> SsoRefused:
    """Audit a refused single sign-on in the connection's organization; the caller raises
    the answer. Commits the audit row.

    Anyone may post answers without signing in, so refusals are counted per client address
    (``REFUSALS``, the sign-in's ``IP_MAX_ATTEMPTS`` per ``IP_WINDOW_SECONDS``): past the
    bound no row is written and the answer carries ``retry_after`` (a 429), so nobody floods
    the organization's audit view."""
    blocked = throttle.count_refused(REFUSALS, client_ip())
    if blocked is not None:
        return SsoRefused(reason, message, blocked.retry_after)
    audit.in_organization("sso_login_refused", connection.organization_id, None, None,
                          connection=connection.id, reason=reason, **detail)
    db().commit()
    return SsoRefused(reason, message)


def complete_sso_signin(identity: SsoIdentity, connection: SsoConnection,
                        next_path: str = "/", reauthenticating: LoginSession | None = None
                        ) -> Response:
    """Sign in the person ``identity`` names through ``connection``: the redirect to
    ``next_path`` with a new session. With ``reauthenticating`` (the browser's session, when
    the identity provider was asked to confirm it is the person) and the same account, that
    session is confirmed instead (re-authentication for sensitive changes: accounts made by
    single sign-on have no password). Raises :class:`SsoRefused`; commits."""
    if not connection.enabled or connection.kind not in usable():
        raise refuse(connection, "connection_off", "This single sign-on connection is off.")
    org: Organization = connection.organization
    email = canonical_email(identity.email)
    if email is None:
        raise refuse(connection, "bad_email", "The identity provider sent an address that "
                     "is not a valid email address.")
    domain = email.rsplit("@", 1)[1]
    if domain not in domains.verified(org.id):
        raise refuse(connection, "foreign_domain", TAKEOVER, email=email, issuer=identity.issuer)
    user = find_user(email)
    if user is not None and user.managed_by_id not in (None, org.id):
        raise refuse(connection, "managed_elsewhere", TAKEOVER, email=email)
    if user is not None and user.is_disabled:
        raise refuse(connection, "disabled", "This account is disabled.", email=email)
    user = _account(org, email, identity) if user is None else _bring_under(org, user)
    if reauthenticating is not None and reauthenticating.user_id == user.id:
        reauthenticated(reauthenticating, method="sso", idp=identity.issuer)
        return redirect(next_path)
    return finish(user, session_methods(identity), next_path, idp=identity.issuer,
                  max_age=org.sso_session_max_age)


def _account(org: Organization, email: str, identity: SsoIdentity) -> User:
    """A just-in-time account (or the one a racing request made a moment ago)."""
    session = db()
    try:
        with session.begin_nested():
            user = User(email=email, password_hash=NO_PASSWORD, email_verified_at=utcnow(),
                        managed_by_id=org.id)
            session.add(user)
            session.flush()
    except IntegrityError:
        raced = find_user(email)
        assert raced is not None
        return _bring_under(org, raced)
    session.add(OrganizationMember(organization_id=org.id, user_id=user.id,
                                   role=OrgRole.MEMBER.label))
    audit.in_organization("sso_account_created", org.id, user.id, user.id, email=email,
                          issuer=identity.issuer)
    audit.in_organization("organization_joined", org.id, user.id, user.id,
                          role=OrgRole.MEMBER.label)
    return user


def _bring_under(org: Organization, user: User) -> User:
    if not user.is_verified:
        user.password_hash = NO_PASSWORD  # chosen by someone who never proved the address
        user.email_verified_at = utcnow()
        user.session_epoch += 1
    if user.managed_by_id is None:
        user.managed_by_id = org.id
        audit.in_organization("organization_account_managed", org.id, user.id, user.id,
                              email=user.email, by="sso")
    member = db().scalars(select(OrganizationMember.id).where(
        OrganizationMember.organization_id == org.id,
        OrganizationMember.user_id == user.id)).first()
    if member is None:
        db().add(OrganizationMember(organization_id=org.id, user_id=user.id,
                                    role=OrgRole.MEMBER.label))
        audit.in_organization("organization_joined", org.id, user.id, user.id,
                              role=OrgRole.MEMBER.label)
    return user
