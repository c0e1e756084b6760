"""Email change across the Console and every linked product: all or nothing, as a small saga.

Request: re-authenticated person asks for a new address; the Console and every linked product
are checked for another user with it; a confirmation link goes to the new address and a
notice to the old one. Confirm: the change claims the address (unique ``claim`` column, so two
people cannot apply the same address at once) and its person (no other change of theirs may be
applying or undoing), records the address the Console holds at that moment as the one to put
back (``old_email``), checks everything again, then changes each product through SCIM,
recording each step before and after the call, and finally the Console in the same transaction
that marks the change ``applied``. Any conflict or product failure puts back the products
already changed; the Console never left that address. A crash midway leaves
``applying``/``compensating`` rows that :func:`repair` rolls back (each process's background
worker, :mod:`gateway.background`, or ``flask email-change repair`` from cron).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from blinker import Namespace
from flask import current_app, url_for
from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from gateway.db import db
from gateway.identity import audit, tokens
from gateway.identity.mail import mail_text, send_mail
from gateway.identity.sessions import invalidate_cached_checks
from gateway.models import EmailChange, EmailChangeStep, ProductLink, User, utcnow
from gateway.products.api import (
    EmailInUse,
    ProductError,
    ProductRefused,
    ProductUnreachable,
    client_for,
)
from gateway.products.table import products

log = logging.getLogger("gateway.email_change")

IN_USE = "This email address is already in use."
RETRY = (
    "We could not update {products} just now, so nothing was changed. "
    "Try again in a few minutes."
)
UNDOING = (
    "Your previous change to this address is still being undone. Try again in a minute."
)
APPLYING = (
    "Your email address is being changed right now. Wait a minute for that to finish, "
    "then try again."
)
TOKEN_PURPOSE = "email-change"
#: The link in the notice to the old address that stops a pending change.
CANCEL_PURPOSE = "email-change-cancel"

#: Sent after each product took the new address and that step was committed (the app is the
#: sender). A point to observe the saga from outside: metrics, or a test harness that injects a
#: crash here to prove the repair (``tests/support/serve.py``).
step_applied = Namespace().signal("email-change-step-applied")


class ChangeState(StrEnum):
    """Where an email change stands (``email_changes.state``; docs/architecture.md, "Email
    change: states")."""

    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied"
    COMPENSATING = "compensating"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: States of a change that is touching products; at most one per person at a time.
IN_PROGRESS = (ChangeState.APPLYING, ChangeState.COMPENSATING)


class StepState(StrEnum):
    """Where one product stands in a change (``email_change_steps.state``)."""

    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied"
    REVERTED = "reverted"


class Refusal(StrEnum):
    """Why a change was refused; the view decides what that means in HTTP."""

    INVALID = "invalid"  # the request or link itself is wrong
    CONFLICT = "conflict"  # the address is taken, or another change is under way
    UNAVAILABLE = "unavailable"  # a product could not be reached: try again later


class Claim(StrEnum):
    """What happened to an attempt to move a change from pending to applying."""

    TAKEN = "taken"  # ours now
    ADDRESS_BUSY = "address busy"  # another change holds the address
    PERSON_BUSY = "person busy"  # another change of this person is applying or being undone
    MOVED = "moved"  # this change was no longer pending (another request confirmed it)


class EmailChangeError(Exception):
    def __init__(self, message: str, refusal: Refusal) -> None:
        super().__init__(message)
        self.message = message
        self.refusal = refusal


def _links(user_id: str) -> list[ProductLink]:
    """The person's links to products that keep accounts of their own (the table's linked
    products: a product since listed as ``accounts = "none"``, or no longer listed, has no
    user to change)."""
    query = select(ProductLink).where(ProductLink.user_id == user_id).order_by(ProductLink.product)
    table = products()
    return [
        link for link in db().scalars(query)
        if (product := table.get(link.product)) is not None and product.has_accounts
    ]


def _unavailable(product: str) -> EmailChangeError:
    message = RETRY.format(products=products().title(product))
    return EmailChangeError(message, Refusal.UNAVAILABLE)


def check_available(user: User, new_email: str) -> None:
    """Refuse an address another Console account or product user has (exact message), or
    retry later. A sign-up not yet confirmed is no account: its address counts as free (the
    answer must not tell who is signing up), and the first to confirm gets it (see
    :func:`_release_pending_signups`)."""
    taken = db().scalars(select(User.id).where(
        User.email == new_email, User.id != user.id, User.email_verified_at.is_not(None)
    ))
    if taken.first() is not None:
        raise EmailChangeError(IN_USE, Refusal.CONFLICT)
    for link in _links(user.id):
        try:
            found = client_for(link.product).find_user_by_email(new_email)
        except ProductError:
            raise _unavailable(link.product) from None
        if found is not None and found.id != link.product_user_id:
            raise EmailChangeError(IN_USE, Refusal.CONFLICT)


def email_change_in_progress(user_id: str) -> bool:
    """A change of this user's email is being applied or undone (linking waits for it)."""
    return _state_in_progress(user_id) is not None


def _state_in_progress(user_id: str) -> str | None:
    query = select(EmailChange.state).where(
        EmailChange.user_id == user_id, EmailChange.state.in_(IN_PROGRESS)
    )
    return db().scalars(query).first()


def request_change(user: User, new_email: str) -> EmailChange:
    """Check the address everywhere, record a pending change and mail both addresses."""
    if new_email == user.email:
        raise EmailChangeError("That is already your email address.", Refusal.INVALID)
    # An applying change's outcome decides what the current address is: wait for it.
    if _state_in_progress(user.id) == ChangeState.APPLYING:
        raise EmailChangeError(APPLYING, Refusal.CONFLICT)
    change = _new_change(user, new_email)
    token = tokens.make_token(TOKEN_PURPOSE, cid=change.id, uid=user.id)
    link = current_app.config["PUBLIC_URL"] + url_for("email_settings.confirm", token=token)
    send_mail(
        new_email,
        "Confirm your new email address",
        f"Open this link to make {mail_text(new_email)} the email of your Unified Login account "
        f"(valid for 24 hours, once):\n\n{link}\n\nIf you did not ask for this, ignore it.",
    )
    cancel = tokens.make_token(CANCEL_PURPOSE, cid=change.id, uid=user.id)
    cancel_link = current_app.config["PUBLIC_URL"] + url_for(
        "email_settings.cancel", token=cancel
    )
    send_mail(
        user.email,
        "Your email address is about to change",
        f"Someone signed in to your account asked to change its email to {mail_text(new_email)}. "
        f"If this was not you, stop the change with this link:\n\n{cancel_link}\n\n"
        "then change your password and sign out everywhere.",
        notice=True,
    )
    audit.record("email_change_requested", user.id, new_email=new_email)
    db().commit()
    return change


def _new_change(user: User, new_email: str) -> EmailChange:
    """Check the address everywhere and record a pending change (replacing any other
    pending one of the person); flushed, not committed."""
    check_available(user, new_email)
    db().execute(
        update(EmailChange)
        .where(EmailChange.user_id == user.id, EmailChange.state == ChangeState.PENDING)
        .values(state=ChangeState.CANCELLED, updated_at=utcnow())
    )
    change = EmailChange(user_id=user.id, old_email=user.email, new_email=new_email)
    db().add(change)
    db().flush()
    return change


def change_now(user: User, new_email: str, **detail: str) -> EmailChange:
    """Change the address at once, without a confirmation link: for a change the address's
    owner vouches for (the managing organization's IdP over SCIM). The same saga runs: the
    claim, every linked product changed or, on a conflict or a failure, every one put back
    and :class:`EmailChangeError` raised with nothing changed anywhere. ``detail`` goes to
    the audit row of the request (who asked)."""
    if new_email == user.email:
        raise EmailChangeError("That is already the account's email address.", Refusal.INVALID)
    if _state_in_progress(user.id) is not None:
        raise EmailChangeError(APPLYING, Refusal.CONFLICT)
    change = _new_change(user, new_email)
    audit.record("email_change_requested", user.id, new_email=new_email, **detail)
    db().commit()
    _claim(change, None)
    return _apply(change)


def pending_change(data: dict[str, object]) -> EmailChange | None:
    """The change a confirm or cancel link names, if it is still pending."""
    change = db().get(EmailChange, str(data.get("cid")))
    if change is None or change.user_id != data.get("uid"):
        return None
    return change if change.state == ChangeState.PENDING else None


def cancel_change(data: dict[str, object]) -> EmailChange | None:
    """Stop a pending change (the old address's link); None when it is no longer pending."""
    change = pending_change(data)
    if change is None or not _stop(change):
        db().rollback()
        return None
    db().commit()
    return change


def cancel_pending(user: User, by: str) -> EmailChange | None:
    """Stop ``user``'s pending change, if any, for ``by`` (a password reset: the link proved
    the current mailbox, and whoever asked for the change may have been an intruder). The
    caller commits, with what made the change stop."""
    query = select(EmailChange).where(
        EmailChange.user_id == user.id, EmailChange.state == ChangeState.PENDING
    )
    change = db().scalars(query).first()
    return change if change is not None and _stop(change, by=by) else None


def _stop(change: EmailChange, **detail: str) -> bool:
    """pending -> cancelled, unless it moved on meanwhile; audited."""
    stopped = db().execute(
        update(EmailChange)
        .where(EmailChange.id == change.id, EmailChange.state == ChangeState.PENDING)
        .values(state=ChangeState.CANCELLED, updated_at=utcnow())
    )
    if not stopped.rowcount:  # type: ignore[attr-defined]
        return False
    audit.record("email_change_cancelled", change.user_id, new_email=change.new_email, **detail)
    return True


def confirm_change(user: User, data: dict[str, object]) -> EmailChange:
    """Spend the link and run the change; idempotent for a change already applied."""
    change = db().get(EmailChange, str(data.get("cid")))
    if change is None or change.user_id != user.id or data.get("uid") != user.id:
        raise EmailChangeError("This link is not valid for your account.", Refusal.INVALID)
    if change.state == ChangeState.APPLIED:
        return change
    if change.state != ChangeState.PENDING:
        raise EmailChangeError("This link is no longer valid. Ask for a new one.", Refusal.INVALID)
    _claim(change, data)
    return _apply(change)


def _claim(change: EmailChange, data: dict[str, object] | None) -> None:
    """pending -> applying, atomically, holding the address and the person; spends the link
    (``data``: none for a change made without one, :func:`change_now`)."""
    session = db()
    outcome = _take_claim(change)
    retries = 0
    while outcome in (Claim.ADDRESS_BUSY, Claim.PERSON_BUSY):
        # One snapshot decides both whether to try again and what the refusal says: a blocker
        # can end at any moment (the background repair), so its state is never read twice.
        blockers = _settle_stale_blockers(change)
        if blockers or retries == 2:
            raise _busy(change, blockers, outcome)
        retries += 1
        outcome = _take_claim(change)
    session.refresh(change)
    if outcome == Claim.MOVED:  # another request confirmed this change first
        if change.state == ChangeState.APPLIED:
            return
        raise EmailChangeError("This change is already being applied.", Refusal.CONFLICT)
    if data is not None:
        tokens.spend(data)  # type: ignore[arg-type]
    for link in _links(change.user_id):
        change.steps.append(EmailChangeStep(product=link.product,
                                            product_user_id=link.product_user_id))
    session.commit()


class Blocker(NamedTuple):
    """Another change in the way of a claim, as it was when looked at."""

    user_id: str
    state: str


def _busy(change: EmailChange, blockers: list[Blocker], outcome: Claim) -> EmailChangeError:
    """Why the claim was refused, from the blockers as they were seen: another person holding
    the address means it is taken; this person's own change is being applied or undone."""
    if not blockers:  # each retry found the way blocked, each look found it clear: rare
        return EmailChangeError(IN_USE if outcome == Claim.ADDRESS_BUSY else APPLYING,
                                Refusal.CONFLICT)
    if any(blocker.user_id != change.user_id for blocker in blockers):
        return EmailChangeError(IN_USE, Refusal.CONFLICT)
    if any(blocker.state == ChangeState.COMPENSATING for blocker in blockers):
        return EmailChangeError(UNDOING, Refusal.CONFLICT)
    return EmailChangeError(APPLYING, Refusal.CONFLICT)


def _take_claim(change: EmailChange) -> Claim:
    """Try pending -> applying with the address claimed and commit it.

    The same statement records the Console's address of this moment as the one to put back:
    no other change of the person may be in progress, so nothing moves it until this one ends.
    """
    session = db()
    other = aliased(EmailChange)
    try:
        with session.begin_nested():
            _lock_person(change.user_id)
            claimed = session.execute(
                update(EmailChange)
                .where(
                    EmailChange.id == change.id,
                    EmailChange.state == ChangeState.PENDING,
                    ~exists().where(other.user_id == change.user_id,
                                    other.state.in_(IN_PROGRESS)),
                )
                .values(
                    state=ChangeState.APPLYING,
                    claim=change.new_email,
                    old_email=select(User.email).where(User.id == change.user_id)
                    .scalar_subquery(),
                    updated_at=utcnow(),
                )
            )
    except IntegrityError:
        session.rollback()
        return Claim.ADDRESS_BUSY
    session.commit()
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return Claim.TAKEN
    state = session.scalars(select(EmailChange.state).where(EmailChange.id == change.id)).one()
    return Claim.PERSON_BUSY if state == ChangeState.PENDING else Claim.MOVED


def _lock_person(user_id: str) -> None:
    """PostgreSQL: claims of one person queue on their row, so the check of the person's other
    changes in the claiming UPDATE sees any claim committed before it. SQLite runs one writer
    at a time already (and a read first would pin a snapshot the UPDATE could not write from).
    """
    if db().get_bind().dialect.name != "sqlite":
        db().execute(select(User.id).where(User.id == user_id).with_for_update())


def _settle_stale_blockers(change: EmailChange) -> list[Blocker]:
    """Roll back stale, interrupted changes holding the address or the person; returns the
    blockers still in progress (fresh ones, and stale ones a product kept from settling), each
    as it was at that moment (a later rollback reloads the objects themselves)."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["EMAIL_CHANGE_STALE_SECONDS"])
    query = select(EmailChange).where(
        EmailChange.id != change.id,
        EmailChange.state.in_(IN_PROGRESS),
        (EmailChange.claim == change.new_email) | (EmailChange.user_id == change.user_id),
    ).order_by(EmailChange.created_at)  # oldest first
    found = list(db().scalars(query))
    if any(blocker.updated_at > cutoff for blocker in found):
        return [Blocker(blocker.user_id, blocker.state) for blocker in found]
    remaining = []
    for blocker in found:
        user_id = blocker.user_id
        if not _compensate(blocker, "Interrupted; rolled back before a retry."):
            remaining.append(Blocker(user_id, ChangeState.COMPENSATING))
    return remaining


def _apply(change: EmailChange) -> EmailChange:
    session = db()
    if change.state == ChangeState.APPLIED:
        return change
    user = session.get(User, change.user_id)
    assert user is not None
    try:
        check_available(user, change.new_email)
        for step in change.steps:
            step.state = StepState.APPLYING
            change.updated_at = utcnow()
            session.commit()
            _patch_forward(change, step)
            step.state = StepState.APPLIED
            session.commit()
            step_applied.send(current_app._get_current_object(), product=step.product)  # type: ignore[attr-defined]
        _release_pending_signups(user, change.new_email)
        user.email = change.new_email
        change.state, change.claim, change.updated_at = ChangeState.APPLIED, None, utcnow()
        audit.record("email_changed", user.id, old_email=change.old_email)
        session.commit()
        invalidate_cached_checks()  # assertions carry the email: no stale one from this process
    except EmailChangeError as exc:
        _compensate(change, exc.message)
        raise
    except EmailInUse:
        _compensate(change, IN_USE)
        raise EmailChangeError(IN_USE, Refusal.CONFLICT) from None
    except ProductError as exc:
        error = _unavailable(exc.product)
        _compensate(change, error.message)
        raise error from None
    except IntegrityError:  # the Console address was taken at the last moment
        session.rollback()
        _compensate(change, IN_USE)
        raise EmailChangeError(IN_USE, Refusal.CONFLICT) from None
    send_mail(change.old_email, "Your email address was changed",
              f"The email of your Unified Login account is now {mail_text(change.new_email)}.",
              notice=True)
    session.commit()
    return change


def _release_pending_signups(user: User, new_email: str) -> None:
    """First to confirm wins: this change was confirmed before a pending sign-up of the same
    address, so that sign-up ends (its link then says the address was confirmed by another
    account first). A sign-up confirmed meanwhile is not touched: the address is then taken
    and this change fails with IN_USE, put back everywhere."""
    db().execute(
        delete(User)
        .where(User.email == new_email, User.id != user.id, User.email_verified_at.is_(None))
        .execution_options(synchronize_session=False)
    )


def _patch_forward(change: EmailChange, step: EmailChangeStep) -> None:
    """Change one product; a refusal or a refused connection means it certainly did not
    change, so that step needs no putting back (a 5xx or a timeout might have, so it does)."""
    try:
        client_for(step.product).patch_user_email(step.product_user_id, change.new_email)
    except (EmailInUse, ProductRefused, ProductUnreachable):
        step.state = StepState.PENDING
        db().commit()
        raise


def _compensate(change: EmailChange, reason: str) -> bool:
    """Put back, in every product that may hold the new email, the address the Console held
    when this change began applying (``old_email``, recorded by the claim); True when done."""
    session = db()
    session.rollback()
    session.refresh(change)
    change.state, change.error, change.updated_at = ChangeState.COMPENSATING, reason[:200], utcnow()
    session.commit()
    done = True
    for step in reversed(change.steps):
        if step.state not in (StepState.APPLYING, StepState.APPLIED):
            continue
        try:
            client_for(step.product).patch_user_email(step.product_user_id, change.old_email)
        except ProductError as exc:
            log.warning("email change %s: %s not put back yet (%s)", change.id, step.product, exc)
            done = False
            continue
        step.state = StepState.REVERTED
        session.commit()
    if done:
        change.state, change.claim, change.updated_at = ChangeState.FAILED, None, utcnow()
        audit.record("email_change_failed", change.user_id, reason=reason)
        session.commit()
    return done


def repair(stale_seconds: int | None = None) -> int:
    """Roll back changes left midway (crash, or products down during compensation).

    Only changes untouched for ``EMAIL_CHANGE_STALE_SECONDS`` are taken, so a change still
    running in another gateway process is left alone. Returns how many were settled.
    """
    stale = stale_seconds if stale_seconds is not None else current_app.config[
        "EMAIL_CHANGE_STALE_SECONDS"
    ]
    cutoff = utcnow() - timedelta(seconds=stale)
    query = select(EmailChange).where(
        EmailChange.state.in_(IN_PROGRESS), EmailChange.updated_at <= cutoff
    )
    settled = 0
    for change in list(db().scalars(query)):
        if _take_for_repair(change, cutoff) and _compensate(
            change, "Interrupted; rolled back by the repair."
        ):
            settled += 1
    return settled


def _take_for_repair(change: EmailChange, cutoff: datetime) -> bool:
    """Claim a stale change for this repair: one conditional UPDATE, so when every worker
    process runs the repair at once, exactly one of them rolls each change back."""
    session = db()
    taken = session.execute(
        update(EmailChange)
        .where(EmailChange.id == change.id, EmailChange.state.in_(IN_PROGRESS),
               EmailChange.updated_at <= cutoff)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def expire_pending() -> int:
    """Pending changes older than the link lifetime end as ``expired``."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["EMAIL_TOKEN_MAX_AGE"])
    result = db().execute(
        update(EmailChange)
        .where(EmailChange.state == ChangeState.PENDING, EmailChange.created_at <= cutoff)
        .values(state=ChangeState.EXPIRED, updated_at=utcnow())
    )
    db().commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
