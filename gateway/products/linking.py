"""Linking a Console user to a product user: the rules, apart from the pages that ask.

Both ways (link an existing product user with its product password, or create a new one) end
with a ``ProductLink`` row in the gateway, the same link recorded in the product and an audit
event, committed once at the end of the use case. Rules: never link on an email match alone
(the product checks the product password); the Console email must be verified; the product
user's email must equal the Console email; one product user links to exactly one Console user.
If a product cannot be reached, nothing is recorded in the gateway. A refusal is a
:class:`LinkRefused` naming its :class:`Refusal`; the page (``gateway/console/linking.py``)
words it.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.db import db, own_transaction
from gateway.identity import audit, interventions, throttle
from gateway.identity.addresses import canonical_email
from gateway.identity.sessions import invalidate_cached_checks
from gateway.identity.signin import find_account
from gateway.models import AuditEvent, ProductLink, User, utcnow
from gateway.products import api
from gateway.products.propagation import email_change_in_progress
from gateway.products.table import Product, products

#: At most one "sent from a product login page" event per user and product in this interval.
REDIRECT_AUDIT_INTERVAL = timedelta(hours=1)


class Refusal(enum.Enum):
    UNVERIFIED = "unverified"
    CHANGE_IN_PROGRESS = "change_in_progress"
    THROTTLED = "throttled"
    WRONG_CREDENTIALS = "wrong_credentials"
    EMAIL_MISMATCH = "email_mismatch"
    #: The mismatch where the product user's email is another Console account's: changing
    #: this Console email to it would be refused, so the way on is that account.
    EMAIL_OF_ANOTHER_ACCOUNT = "email_of_another_account"
    LINKED_ELSEWHERE = "linked_elsewhere"
    CONSOLE_ALREADY_LINKED = "console_already_linked"
    EMAIL_TAKEN = "email_taken"
    UNAVAILABLE = "unavailable"


class LinkRefused(Exception):
    """Why nothing was linked; ``blocked`` when throttled, ``product_email`` on a mismatch."""

    def __init__(
        self, refusal: Refusal, *, blocked: throttle.Blocked | None = None,
        product_email: str = "",
    ) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.blocked = blocked
        self.product_email = product_email


@dataclass(frozen=True)
class Linked:
    """The product user now linked; ``origin`` "created" or "linked"; ``new`` False when a
    concurrent request of the same person recorded the same link first."""

    product_user_id: str
    origin: str
    new: bool = True


def existing_link(user_id: str, product: str) -> ProductLink | None:
    query = select(ProductLink).where(
        ProductLink.user_id == user_id, ProductLink.product == product
    )
    return db().scalars(query).first()


def may_change(user: User) -> None:
    """Checks shared by link and create; raises LinkRefused: a verified Console email, and no
    email change under way (the change lists the linked products when it starts: a product
    linked midway would keep the old email; it ends within seconds)."""
    if not user.is_verified:
        raise LinkRefused(Refusal.UNVERIFIED)
    if email_change_in_progress(user.id):
        raise LinkRefused(Refusal.CHANGE_IN_PROGRESS)


def link_existing(user: User, product: Product, email: str, password: str, ip: str) -> Linked:
    """Link the product user the product's own ``email`` and ``password`` prove. Wrong
    credentials count like a wrong password (per product and address, and per client)."""
    may_change(user)
    address = canonical_email(email) or ""
    account = f"link:{product.name}:{address or user.id}"
    blocked = throttle.check(account, ip)
    if blocked:
        raise LinkRefused(Refusal.THROTTLED, blocked=blocked)
    client = api.client_for(product.name)
    try:
        product_user = client.verify_credentials(address or email, password)
    except api.InvalidCredentials:
        throttle.record_failure(account, ip)
        raise LinkRefused(Refusal.WRONG_CREDENTIALS) from None
    except api.ProductError:
        raise LinkRefused(Refusal.UNAVAILABLE) from None
    throttle.record_success(account)
    try:
        product_email = canonical_email(product_user.email)
        if product_email != user.email:
            raise LinkRefused(_mismatch(product_email), product_email=product_user.email)
        if _linked_elsewhere(product.name, product_user.id, user.id):
            raise LinkRefused(Refusal.LINKED_ELSEWHERE)
        try:
            client.link_user(product_user.id, user.id, user.email)
        except api.AlreadyLinked as exc:
            refusal = (Refusal.CONSOLE_ALREADY_LINKED
                       if exc.code == "console_user_already_linked" else Refusal.LINKED_ELSEWHERE)
            raise LinkRefused(refusal) from None
        except api.ProductError:
            raise LinkRefused(Refusal.UNAVAILABLE) from None
    except LinkRefused:
        db().commit()  # the right product password cleared its count
        raise
    return _record_link(user, product.name, product_user.id, "linked")


def _mismatch(product_email: str | None) -> Refusal:
    """Which mismatch: told only to someone who just proved the product user's password, so
    naming another account at that address tells them nothing its owner does not know."""
    other = find_account(product_email)
    return (Refusal.EMAIL_OF_ANOTHER_ACCOUNT if other is not None and other.is_verified
            else Refusal.EMAIL_MISMATCH)


def create_new(user: User, product: Product) -> Linked:
    """Create a product user with the Console email and link it; an earlier attempt the
    gateway did not get to record (the product already holds it, linked to this user) is
    picked up instead of refused."""
    may_change(user)
    client = api.client_for(product.name)
    origin = "created"
    try:
        product_user = client.create_user(user.email, user.id)
    except api.EmailInUse:
        try:
            ours = _already_ours(client, user)
        except api.ProductError:
            raise LinkRefused(Refusal.UNAVAILABLE) from None
        if ours is None:
            raise LinkRefused(Refusal.EMAIL_TAKEN) from None
        product_user, origin = ours, "linked"
    except api.ProductError:
        raise LinkRefused(Refusal.UNAVAILABLE) from None
    return _record_link(user, product.name, product_user.id, origin)


def _already_ours(client: api.ProductClient, user: User) -> api.ProductUser | None:
    """The product user with this email if the product already records it as linked to *this*
    Console user, else None."""
    found = client.find_user_by_email(user.email)
    if found is not None and found.external_id == user.id:
        return found
    return None


def _linked_elsewhere(product: str, product_user_id: str, user_id: str) -> bool:
    query = select(ProductLink.user_id).where(
        ProductLink.product == product, ProductLink.product_user_id == product_user_id
    )
    owner = db().scalars(query).first()
    return owner is not None and owner != user_id


def _record_link(user: User, product: str, product_user_id: str, origin: str) -> Linked:
    """Insert the gateway's side of the link, audit it and commit; LinkRefused when another
    Console user holds it (linking the same pair again is no refusal)."""
    row = ProductLink(user_id=user.id, product=product, product_user_id=product_user_id,
                      origin=origin)
    try:
        with db().begin_nested():
            db().add(row)
    except IntegrityError:
        mine = existing_link(user.id, product)
        db().commit()
        if mine is not None and mine.product_user_id == product_user_id:
            return Linked(product_user_id, origin, new=False)
        raise LinkRefused(Refusal.LINKED_ELSEWHERE) from None
    event = "product_created" if origin == "created" else "product_linked"
    audit.record(event, user.id, product=product, product_user_id=product_user_id)
    db().commit()
    invalidate_cached_checks()  # the switcher of other products shows the new link at once
    return Linked(product_user_id, origin)


def unlink(actor: User, target: User, product: str, reason: object) -> str:
    """An operator removes the gateway's link of ``target`` to ``product`` (a wrong link, a
    compromised product user): from the next request the proxy sends the person to the link
    page. The product user itself is left as it is in the product. Returns the product user
    id that was linked; LookupError when there is no such link, NotAllowed when refused."""
    text = interventions.authorise(actor, interventions.Action.UNLINK, target, reason)
    link = existing_link(target.id, product[:32])
    if link is None:
        raise LookupError(product)
    db().delete(link)
    audit.by_operator("product_unlinked", target.id, actor.id, reason=text,
                      product=link.product, product_user_id=link.product_user_id)
    db().commit()
    invalidate_cached_checks()
    return link.product_user_id


def _product_of(next_path: str) -> Product | None:
    """The product whose prefix ``next_path`` is under."""
    return next(
        (p for p in products() if next_path.lower().startswith(p.prefix.lower() + "/")), None
    )


def note_product_login_redirect(login_hint: str | None, next_path: str) -> None:
    """Audit a person sent by a product's own login page (``/login?login_hint=..&next=/p/``).

    One indexed lookup and one insert, in a transaction of its own (the GET of the sign-in
    page commits nothing else); the page shown is the same whoever the hint names, so this is
    no enumeration oracle.
    """
    product = _product_of(next_path)
    if product is None or not login_hint:
        return
    email = canonical_email(login_hint)
    user_id = db().scalars(select(User.id).where(User.email == email)).first() if email else None
    # Anyone can send this GET: one row per user and product per interval, or a flood of them
    # would push the person's real security events off their Activity page.
    since = utcnow() - REDIRECT_AUDIT_INTERVAL
    recent = select(AuditEvent.id).where(
        AuditEvent.event == "product_login_redirect",
        AuditEvent.user_id == user_id if user_id else AuditEvent.user_id.is_(None),
        AuditEvent.detail == json.dumps({"product": product.name}),
        AuditEvent.created_at >= since,
    )
    if db().scalars(recent.limit(1)).first() is not None:
        return
    with own_transaction() as session:
        audit.record_in(session, "product_login_redirect", user_id, product=product.name)


def handoff_product(login_hint: str | None, next_path: str) -> str | None:
    """The title of the product whose own login page sent this person here (it sends a linked
    user's email as ``login_hint`` and its own path as ``next``), for the sign-in page to say
    "<Product> now uses your Console sign-in". The same for any hint: no account is looked up.
    """
    product = _product_of(next_path) if login_hint else None
    return products().title(product.name) if product is not None else None
