"""Login throttling shared by every gateway process (counters live in the database).

Two counters guard each login: consecutive failures per account (``LOGIN_MAX_FAILURES``, then a
``LOGIN_LOCKOUT_SECONDS`` cool-down) and failures per client address in a fixed window
(``IP_MAX_ATTEMPTS`` per ``IP_WINDOW_SECONDS``). The same fixed windows cap sign-ups per client
address and mails per recipient. The database was chosen over Redis so the
one-command SQLite demo and a PostgreSQL cluster behave the same with nothing else to run.
Keys for accounts are the canonical email, so unknown emails are throttled exactly like known
ones (no enumeration through 429s).

The account lock guards against guessing a password (or a code after it) from many places at
once, so anyone can set it off. :class:`Proof` says, in one place, which proofs pass it: a
mailed reset link with a second factor, and a passkey. Those are still counted per client, a
reset link also per link, and their success lifts the lock (audited as ``lockout_lifted``).

Counting is not part of the use case it guards: failures, sign-ups, resends, reset requests
and email-change requests are counted in a short transaction of their own
(``gateway.db.own_transaction``), so a request that fails or rolls back afterwards keeps its
count, and the caller has nothing to commit for it. A success clearing the count, and the
per-recipient mail cap, belong to the change they go with and commit (or roll back) with it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.db import db, own_transaction
from gateway.identity import audit
from gateway.models import ThrottleBucket, utcnow


@dataclass(frozen=True)
class Blocked:
    retry_after: int


class Proof(enum.Enum):
    """What an attempt offers, which decides whether the account lock may refuse it."""

    #: A password, or a code after one: what the account lock is for.
    SECRET = "secret"
    #: The mailed reset link plus a TOTP or recovery code: the mailbox and a second factor.
    LINK_AND_SECOND_FACTOR = "link_and_second_factor"
    #: A passkey's signature (alone, or with a password or a link): nothing to guess.
    PASSKEY = "passkey"

    @property
    def passes_account_lock(self) -> bool:
        """Stronger proof than the lock guards against: a stranger's wrong passwords must not
        keep its owner out (the 429 page promises the reset as the way in)."""
        return self is not Proof.SECRET


def _bucket(session: Session, key: str) -> ThrottleBucket:
    """The bucket row for ``key`` in ``session``, locked for update, created when missing."""
    key = key[:300]
    query = select(ThrottleBucket).where(ThrottleBucket.key == key).with_for_update()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no FOR UPDATE, and its driver runs a SELECT outside any transaction: two
        # processes would both read n and write n + 1. A no-op UPDATE first takes the write
        # lock (waiting for the busy timeout), so the read below sees the latest count.
        session.execute(
            update(ThrottleBucket).where(ThrottleBucket.key == key)
            .values(count=ThrottleBucket.count)
        )
    bucket = session.scalars(query).first()
    if bucket is not None:
        return bucket
    try:
        with session.begin_nested():
            bucket = ThrottleBucket(key=key, count=0, window_start=utcnow())
            session.add(bucket)
    except IntegrityError:  # another process created it first
        bucket = session.scalars(query).one()
    return bucket


def _blocked(bucket: ThrottleBucket | None) -> Blocked | None:
    if bucket is None or bucket.blocked_until is None:
        return None
    remaining = (bucket.blocked_until - utcnow()).total_seconds()
    return Blocked(max(1, math.ceil(remaining))) if remaining > 0 else None


def check(
    account: str, ip: str, proof: Proof = Proof.SECRET, link: str | None = None
) -> Blocked | None:
    """Is the account (unless ``proof`` passes its lock), the address or the reset ``link``
    (its id) cooling down right now?"""
    session = db()
    keys = [f"ip:{ip}"] + ([f"link:{link}"] if link else [])
    if not proof.passes_account_lock:
        keys.insert(0, f"acct:{account}")
    for key in keys:
        blocked = _blocked(session.get(ThrottleBucket, key[:300]))
        if blocked:
            return blocked
    return None


def record_failure(account: str, ip: str, link: str | None = None) -> bool:
    """Count a failure against the account and the address, and against the reset ``link``
    when the attempt came with one; True when the account just got locked.

    A link that took ``LOGIN_MAX_FAILURES`` wrong codes is refused for the rest of its life
    (``PASSWORD_RESET_MAX_AGE``): with the account lock passed, links (a few per address and
    hour) bound the guesses, no more than the account lock did.
    """
    with own_transaction() as session:
        return _count_failure(session, account, ip, link)


def _count_failure(session: Session, account: str, ip: str, link: str | None) -> bool:
    config = current_app.config
    now = utcnow()
    if link:
        link_bucket = _bucket(session, f"link:{link}")
        link_bucket.count += 1
        if link_bucket.count >= config["LOGIN_MAX_FAILURES"]:
            lifetime = timedelta(seconds=config["PASSWORD_RESET_MAX_AGE"])
            link_bucket.blocked_until = now + lifetime
    account_bucket = _bucket(session, f"acct:{account}")
    account_bucket.count += 1
    locked = False
    if account_bucket.count >= config["LOGIN_MAX_FAILURES"]:
        account_bucket.blocked_until = now + timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
        account_bucket.count = 0
        locked = True
    ip_bucket = _bucket(session, f"ip:{ip}")
    window = timedelta(seconds=config["IP_WINDOW_SECONDS"])
    if now - ip_bucket.window_start > window:
        ip_bucket.window_start, ip_bucket.count = now, 0
    ip_bucket.count += 1
    if ip_bucket.count >= config["IP_MAX_ATTEMPTS"]:
        ip_bucket.blocked_until = ip_bucket.window_start + window
    return locked


def record_success(account: str, user_id: str | None = None, by: str = "sign_in") -> None:
    """A correct login clears the consecutive-failure count of that account. When a lock was
    in force (a proof that passes it, or a reset), lifting it is audited, naming ``by``."""
    if lift_lock(account):
        audit.record("lockout_lifted", user_id, by=by)
    else:
        db().execute(delete(ThrottleBucket).where(ThrottleBucket.key == f"acct:{account}"[:300]))


def locked_until(account: str) -> datetime | None:
    """Until when the account lock holds ``account`` (its canonical email), or None."""
    bucket = db().get(ThrottleBucket, f"acct:{account}"[:300])
    blocked = _blocked(bucket)
    return bucket.blocked_until if blocked is not None and bucket is not None else None


def lift_lock(account: str) -> bool:
    """End the account lock of ``account`` now (an operator checked who is asking); True when
    one was in force. The caller audits and commits."""
    key = f"acct:{account}"[:300]
    lifted = db().execute(
        delete(ThrottleBucket).where(ThrottleBucket.key == key,
                                     ThrottleBucket.blocked_until > utcnow())
    )
    return bool(lifted.rowcount)  # type: ignore[attr-defined]


def _count_in_window(key: str, seconds: int, session: Session | None = None) -> ThrottleBucket:
    """Add one to the fixed-window counter ``key`` (a new window once ``seconds`` passed), in
    ``session`` (default: the request's)."""
    now = utcnow()
    bucket = _bucket(session or db(), key)
    if now - bucket.window_start > timedelta(seconds=seconds):
        bucket.window_start, bucket.count = now, 0
    bucket.count += 1
    return bucket


def allow_mail(recipient: str) -> bool:
    """Whether one more mail may go to ``recipient`` this hour (``MAIL_PER_HOUR``).

    Sign-ups, resent links and email-change confirmations mail someone who may not have asked;
    without a cap anyone could flood an inbox. ``gateway.identity.mail`` asks before every such
    send.
    """
    bucket = _count_in_window(f"mail:{recipient}", 3600)
    return bucket.count <= current_app.config["MAIL_PER_HOUR"]


def client_action(action: str, ip: str) -> Blocked | None:
    """Count one ``action`` (sign-up, resend) from ``ip``; Blocked once over
    ``SIGNUP_MAX_PER_IP`` in the ``SIGNUP_WINDOW_SECONDS`` window (each mails a stranger)."""
    config = current_app.config
    return _counted(f"{action}:{ip}", config["SIGNUP_WINDOW_SECONDS"], config["SIGNUP_MAX_PER_IP"])


def per_client(action: str, ip: str, window: int, limit: int) -> Blocked | None:
    """Count one ``action`` from the client address ``ip``; Blocked once over ``limit`` in
    the ``window`` (seconds): the admin API's token endpoint."""
    return _counted(f"{action}:{ip}", window, limit)


def per_account(action: str, user_id: str, limit: int) -> Blocked | None:
    """Count one ``action`` of the account ``user_id`` this hour; Blocked once over ``limit``
    (an email change's answer tells whether an address is taken: no probing address after
    address from one account, whichever browser or address it comes from)."""
    return _counted(f"{action}:acct-id:{user_id}", 3600, limit)


def per_actor(action: str, actor_id: str, window: int, limit: int) -> Blocked | None:
    """Count one ``action`` of the operator or admin API client ``actor_id``; Blocked once
    over ``limit`` in the ``window`` (seconds): the admin actions
    (``interventions.authorise``)."""
    return _counted(f"{action}:actor:{actor_id}", window, limit)


def per_address(action: str, address: str, limit: int) -> bool:
    """Count one ``action`` (a reset request) for ``address`` this hour; False once over
    ``limit``. The key is the canonical address whether or not an account uses it, so the
    answer tells nothing about accounts; callers stay silent past it (same page, no mail)."""
    return _counted(f"{action}:addr:{address}", 3600, limit) is None


def refused_blocked(action: str, ip: str) -> Blocked | None:
    """Is ``ip`` past its bound of refused ``action``s (``IP_MAX_ATTEMPTS`` per
    ``IP_WINDOW_SECONDS``, the sign-in's bound per client address)? Only reads.

    For what anyone may send without signing in and what costs a lookup and an audit row
    when refused: single sign-on answers (``sso_refused``) and SCIM bearer tokens
    (``scim_token``). Past the bound the caller answers 429 before doing any of the work.
    """
    bucket = db().get(ThrottleBucket, f"{action}:{ip}"[:300])
    config = current_app.config
    if bucket is None or bucket.count < config["IP_MAX_ATTEMPTS"]:
        return None
    ends = bucket.window_start + timedelta(seconds=config["IP_WINDOW_SECONDS"])
    remaining = (ends - utcnow()).total_seconds()
    return Blocked(max(1, math.ceil(remaining))) if remaining > 0 else None


def count_refused(action: str, ip: str) -> Blocked | None:
    """Count one refused ``action`` from ``ip`` (see :func:`refused_blocked`); Blocked once
    past the bound, when the caller writes no audit row (requests that raced past the check)."""
    config = current_app.config
    return _counted(f"{action}:{ip}", config["IP_WINDOW_SECONDS"], config["IP_MAX_ATTEMPTS"])


def _counted(key: str, window: int, limit: int) -> Blocked | None:
    """Count one under ``key`` in its own transaction; Blocked (until the window ends) once
    over ``limit``."""
    with own_transaction() as session:
        bucket = _count_in_window(key, window, session)
        if bucket.count <= limit:
            return None
        ends = bucket.window_start + timedelta(seconds=window)
        return Blocked(max(1, math.ceil((ends - utcnow()).total_seconds())))
