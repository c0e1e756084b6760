"""The gateway's tables: Console users, their sessions, 2FA, links to products, audit.

Uniqueness is enforced by the database (case-insensitive email is stored normalised), and
every time is a timezone-aware UTC datetime.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from gateway.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite hands back naive ones, so re-attach UTC on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


#: The ``password_hash`` of an account made without a password (just in time by single sign-on,
#: or provisioned by its organization's IdP): not an argon2 hash, so no password ever verifies
#: against it. A password is set, if ever, through the emailed reset link.
NO_PASSWORD = "!no-password"


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # For a sign-up not yet confirmed: when its latest attempt started (it expires from there).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # One more each time all the user's sessions are ended (sign out everywhere, password or
    # 2FA change): a sign-in waiting for its 2FA code carries the value it started with.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # TOTP: only a confirmed key, set together with totp_enabled_at (a key being set up lives
    # in the enrolment, gateway/identity/enrolment.py, never here).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Last accepted RFC 6238 time step, so an accepted code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    plan: Mapped[str] = mapped_column(String(16), default="trial")
    # Operator role on the Console (gateway.identity.roles): "support", "admin", "owner" or
    # None. Holding one requires a second factor.
    role: Mapped[str | None] = mapped_column(String(16), index=True)
    # Set while an operator has disabled the account: no session of it is live anywhere.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set while the managing organization's IdP has deactivated the account over SCIM
    # (gateway.organizations.provisioning): as disabled, but apart from ``disabled_at``, so
    # the IdP's "active" never undoes an operator's disable, nor an operator's enable the IdP's.
    deprovisioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An operator reset the account's 2FA: the next sign-in enrols a second factor first.
    must_enrol_2fa: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The organization that manages the account: its address is at a domain that organization
    # verified, and an owner brought it under management (gateway.organizations.managed).
    managed_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    passkeys: Mapped[list[PasskeyCredential]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="PasskeyCredential.id"
    )

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_disabled(self) -> bool:
        """No sign-in, no live session: an operator disabled it, or its organization's IdP
        deactivated it."""
        return self.disabled_at is not None or self.deprovisioned_at is not None

    @property
    def has_password(self) -> bool:
        """False for an account made by single sign-on or SCIM that never set one."""
        return bool(self.password_hash) and self.password_hash != NO_PASSWORD

    @property
    def has_second_factor(self) -> bool:
        """TOTP or at least one passkey: sign-in asks for one of them after the password."""
        return self.has_2fa or bool(self.passkeys)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class PasskeyCredential(Base):
    """A WebAuthn credential (passkey) registered by a user (gateway.identity.passkeys).

    ``credential_id`` is the authenticator's id, base64url; ``public_key`` the COSE key the
    library verifies assertions with; ``sign_count`` the last signature counter seen (one that
    goes backwards is refused: a cloned authenticator). ``public_id`` is what pages show.
    """

    __tablename__ = "passkey_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(64), default="Passkey")
    transports: Mapped[str] = mapped_column(String(128), default="")
    # Synced (multi-device, backup eligible) or bound to one authenticator: amr "swk" / "hwk".
    multi_device: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="passkeys")


class PasskeyChallenge(Base):
    """A WebAuthn challenge handed to a browser: single use (``used_at``), short-lived
    (``expires_at``) and bound to the browser session that asked (``binding``, the SHA-256 of a
    random value kept in that session's cookie). ``id`` is the SHA-256 of the challenge."""

    __tablename__ = "passkey_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    binding: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginSession(Base):
    """Server-side record of a signed-in browser; the cookie holds only its random token.

    ``id`` is the SHA-256 of the token, so a database leak does not hand out live sessions.
    ``public_id`` is what pages, logs and assertions show.
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Last time the person proved who they are (login or re-authentication).
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why it ended (``sessions.ENDED_BECAUSE``), told to the browser that still holds it.
    ended_by: Mapped[str | None] = mapped_column(String(32))
    auth_methods: Mapped[str] = mapped_column(String(64), default="pwd")
    # A single sign-on session: the identity provider's issuer (the assertion's ``idp``
    # claim), and the organization's shorter lifetime when it has one (seconds).
    idp: Mapped[str | None] = mapped_column(String(255))
    max_age: Mapped[int | None] = mapped_column(Integer)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")
    # When a role holder first opened the operator console with it (gateway.admin.guard): the
    # person's own sessions page lists such sessions apart, as "Admin session".
    admin_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class KnownDevice(Base):
    """A browser a user completed a sign-in from (new-sign-in notice), and, when the person
    ticked "Remember this device", until when it skips the second factor.

    The browser's ``gw_device`` cookie holds a random token; only its SHA-256 is stored here,
    so a database leak hands out no remembered device. ``public_id`` is what pages show.
    """

    __tablename__ = "known_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set while the device skips the second factor; cleared on revocation and credential changes.
    remembered_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProductLink(Base):
    """One Console user <-> one product user, per product, both ways unique."""

    __tablename__ = "product_links"
    __table_args__ = (
        UniqueConstraint("user_id", "product", name="uq_product_links_user_product"),
        UniqueConstraint("product", "product_user_id", name="uq_product_links_product_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(32))
    product_user_id: Mapped[str] = mapped_column(String(64))
    # "linked" (an existing product user proved) or "created" (made from the Console).
    origin: Mapped[str] = mapped_column(String(16), default="linked")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    event: Mapped[str] = mapped_column(String(64))
    # The operator who did it, for the admin console's actions (None: the person themselves,
    # or nobody signed in). A plain id, not a key: the row outlives the operator's account.
    actor_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    # The organization an organization event belongs to (its audit page lists them).
    organization_id: Mapped[str | None] = mapped_column(String(32), index=True)


class UsedToken(Base):
    """Ids of single-use things already spent: mailed links (verification, email change,
    password reset; ``expires_at`` empty) and SAML assertions (``expires_at``: their
    ``NotOnOrAfter`` plus the clock skew). A row is kept only while what it names could
    still be accepted (``gateway.identity.tokens.prune_spent``)."""

    __tablename__ = "used_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ThrottleBucket(Base):
    """Shared throttling counter (works across gateway processes on one database).

    ``key`` is e.g. ``acct:<email>`` (consecutive failures) or ``ip:<address>`` (window).
    """

    __tablename__ = "throttle_buckets"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """One mail, written in the transaction of the change it announces, delivered after commit.

    ``status``: ``pending`` (to send over SMTP), ``sent``, ``failed`` (gave up after
    ``MAIL_MAX_ATTEMPTS``), or ``mailbox`` (no SMTP server configured: kept for the developer
    mailbox page). ``next_attempt_at`` is both the backoff and the claim: a deliverer takes a due
    row by moving it forward in one conditional UPDATE (``gateway.identity.mail_delivery``).
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EmailChange(Base):
    """One email change, run as a small saga across the Console and every linked product.

    States (see docs/architecture.md, "Email change"):
    ``pending`` (requested, link mailed) -> ``applying`` (confirmed; products being changed)
    -> ``applied`` (every product and the Console hold the new email), or on a conflict or a
    product failure -> ``compensating`` (changed products being put back) -> ``failed``
    (everything holds the old email). ``expired`` and ``cancelled`` end a pending request.
    ``claim`` holds the new email while ``applying``/``compensating``: its unique constraint
    lets exactly one change claim an address at a time.
    """

    __tablename__ = "email_changes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    old_email: Mapped[str] = mapped_column(String(254))
    new_email: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    claim: Mapped[str | None] = mapped_column(String(254), unique=True)
    error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    steps: Mapped[list[EmailChangeStep]] = relationship(
        back_populates="change", cascade="all, delete-orphan", order_by="EmailChangeStep.id"
    )


class EmailChangeStep(Base):
    """The change in one product: ``pending`` -> ``applying`` -> ``applied`` -> ``reverted``.

    ``applying`` is written before the product is called, so after a crash the repair knows the
    product may hold the new email and puts the old one back (a PATCH to the old value is
    harmless when the first never landed).
    """

    __tablename__ = "email_change_steps"
    __table_args__ = (
        UniqueConstraint("change_id", "product", name="uq_email_change_steps_product"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    change_id: Mapped[str] = mapped_column(ForeignKey("email_changes.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(32))
    product_user_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")

    change: Mapped[EmailChange] = relationship(back_populates="steps")


class ApiClient(Base):
    """A machine client of the admin API (OAuth 2.0 client credentials), made by an owner.

    ``id`` is the public client id (``api-`` and 112 random bits: it is also the ``actor_id``
    of the audit rows the client writes, told apart from account ids by its prefix). The
    secret is kept only as a password hash. ``role`` is the client's ceiling (``support`` or
    ``admin``): it acts with the lower of that and its creator's current role
    (``gateway.identity.api_clients``).
    """

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                            index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """An access token of an :class:`ApiClient`, kept as the SHA-256 of its value (a random
    256-bit string, so a fast hash is enough: nothing to guess from it), short-lived."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"),
                                           index=True)
    scope: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Organization(Base):
    """A group of Console accounts (gateway.organizations). ``id`` is 128 random bits: it is in
    every organization URL, and a guessed one must find nothing."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Enforced single sign-on: the accounts it manages sign in only through its identity
    # provider (owners keep a break-glass password sign-in with 2FA).
    sso_enforced: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Lifetime of its members' single sign-on sessions, in seconds (None: the gateway's own).
    sso_session_max_age: Mapped[int | None] = mapped_column(Integer)


class OrganizationMember(Base):
    """One account in one organization, with its role there (``owner``, ``admin``,
    ``member``); ``public_id`` is what URLs name. ``created_at`` is when the person joined: the
    organization's audit page shows their security events from then on, never before."""

    __tablename__ = "organization_members"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id", name="uq_organization_members_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The organization's IdP's own id for the person (SCIM ``externalId``), when it sent one.
    scim_external_id: Mapped[str | None] = mapped_column(String(128))
    # Last change made over SCIM (the resource's ``meta.lastModified`` and its ETag).
    scim_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class OrganizationInvitation(Base):
    """An invitation mailed to ``email``: the account that signs in with that (verified)
    address accepts it, once, before ``expires_at``. One per address and organization."""

    __tablename__ = "organization_invitations"
    __table_args__ = (
        UniqueConstraint("organization_id", "email", name="uq_organization_invitations_email"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(16))
    invited_by_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship()


class OrganizationDomain(Base):
    """An email domain an organization claims. ``token`` is what its DNS TXT record must hold
    (one per organization and domain, so one organization's record proves nothing for
    another). ``claim`` holds the domain once verified: its unique constraint lets one
    organization at most have it verified."""

    __tablename__ = "organization_domains"
    __table_args__ = (
        UniqueConstraint("organization_id", "domain", name="uq_organization_domains_domain"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253))
    token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(253), unique=True)


class ScimToken(Base):
    """A bearer token an organization's IdP provisions its members with (SCIM in), made by
    an owner on the organization's pages. Only the SHA-256 of the value is kept (a random
    256-bit string: nothing to guess from the hash, and a lookup by hash compares no secret),
    so it is shown once. Revoked tokens stay listed, refused."""

    __tablename__ = "scim_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PolicyRow(Base):
    """The owners' sign-in policy (``gateway.identity.policy``): one row, ``id`` 1, absent
    until an owner first saves it (then the defaults apply). Lifetimes are seconds, None for
    the deployment's setting."""

    __tablename__ = "policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    require_2fa: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_totp: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_passkey: Mapped[bool] = mapped_column(Boolean, default=True)
    session_idle_seconds: Mapped[int | None] = mapped_column(Integer)
    session_max_seconds: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(32))


class SsoConnection(Base):
    """An organization's identity provider (gateway.organizations.sso.connections): ``kind``
    ``oidc`` or ``saml``, ``config`` its kind's settings as JSON (a client secret in it is
    sealed, never stored in the clear). ``id`` is 128 random bits: it is in the IdP's
    callback URL."""

    __tablename__ = "sso_connections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    config: Mapped[str] = mapped_column(Text, default="{}")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organization: Mapped[Organization] = relationship()
