"""First visit to an unlinked product: link an existing product user, or create a new one.

``/link/<product>`` is where the proxy sends a signed-in person who has no link to that product
yet (``?next=`` is the page they asked for). Both ways end with a ``ProductLink`` row in the
gateway, the same link recorded in the product, an audit event, and a redirect to ``next``.

Rules: never link on an email match alone (the product checks the product password); the
Console email must be verified; the product user's email must equal the Console email; one
product user links to exactly one Console user. If a product cannot be reached, nothing is
recorded in the gateway and the person gets a page with a retry button.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from gateway.console.forms import CreateProductUserForm, LinkExistingForm
from gateway.db import db
from gateway.identity import audit, throttle
from gateway.identity.addresses import canonical_email
from gateway.identity.sessions import invalidate_cached_checks
from gateway.models import AuditEvent, ProductLink, User, utcnow
from gateway.products import api
from gateway.products.propagation import email_change_in_progress
from gateway.products.table import Product, products
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts
from gateway.web.return_paths import safe_return_path

bp = Blueprint("linking", __name__)

GENERIC_LINK_ERROR = "That email and password did not match a {title} user."
UNVERIFIED = "Confirm your Console email address before linking or creating a {title} user."
ALREADY_LINKED = (
    "This {title} user is already linked to another Console user. "
    "Sign in with that Console account, or create a new {title} user instead."
)
CONSOLE_ALREADY_LINKED = (
    "{title} already has another user linked to your Console account. "
    "Contact support to move the link."
)
CHANGE_IN_PROGRESS = "Your email address is being changed right now. Try again in a minute."
EMAIL_TAKEN = "A {title} user with this email already exists; link it instead."
#: At most one "sent from a product login page" event per user and product in this interval.
REDIRECT_AUDIT_INTERVAL = timedelta(hours=1)


def _product(name: str) -> Product:
    """A product with users of its own to link; anything else (``accounts = "none"``) has no
    linking page."""
    product = products().get(name)
    if product is None or not product.has_accounts:
        abort(404)
    return product


def _title(name: str) -> str:
    return products().title(name)


def _next(product: Product) -> str:
    return safe_return_path(request.values.get("next"), default=product.prefix + "/")


def existing_link(user_id: str, product: str) -> ProductLink | None:
    query = select(ProductLink).where(
        ProductLink.user_id == user_id, ProductLink.product == product
    )
    return db().scalars(query).first()


def _page(
    product: Product,
    next_path: str,
    status: int = 200,
    *,
    error: str | None = None,
    link_form: LinkExistingForm | None = None,
) -> tuple[str, int]:
    user: User = current_user.user
    if link_form is None:
        link_form = LinkExistingForm(formdata=None, email=user.email)
    title = _title(product.name)
    # The fields say whose credentials they want ("Segment email"), in the summary too.
    link_form.email.label.text = f"{title} email"
    link_form.password.label.text = f"{title} password"
    return render_template(
        "linking/choose.html",
        product=product,
        title=title,
        user=user,
        next=next_path,
        link_form=link_form,
        create_form=CreateProductUserForm(formdata=None),
        error=error,
    ), status


def _unavailable(product: Product, next_path: str) -> Response:
    page = render_template(
        "linking/unavailable.html", product=product, title=_title(product.name), next=next_path
    )
    return Response(
        page, 503, {"Retry-After": "5", "Cache-Control": "no-store"}, mimetype="text/html"
    )


@bp.route("/link/<name>", methods=["GET"])
@login_required
def choose(name: str) -> ResponseReturnValue:
    """The choice page; a person already linked goes straight on to ``next``."""
    product = _product(name)
    next_path = _next(product)
    if existing_link(current_user.user.id, product.name) is not None:
        return Response(status=302, headers={"Location": next_path})
    return _page(product, next_path)


def _before_change(
    product: Product, next_path: str, form: Any, link_form: LinkExistingForm | None = None
) -> ResponseReturnValue | None:
    """Checks shared by link and create: a valid form (CSRF), not linked yet (then linking
    again is a no-op that goes on to ``next``), and a verified Console email."""
    user: User = current_user.user
    if not form.validate_on_submit():
        return _page(product, next_path, 400, link_form=link_form)
    if existing_link(user.id, product.name) is not None:
        return Response(status=302, headers={"Location": next_path})
    if not user.is_verified:
        return _page(product, next_path, 403, error=UNVERIFIED.format(title=_title(product.name)))
    if email_change_in_progress(user.id):
        # The change lists the linked products when it starts: a product linked midway would
        # keep the old email. Wait for the change to end (seconds).
        return _page(product, next_path, 409, error=CHANGE_IN_PROGRESS)
    return None


@bp.route("/link/<name>/existing", methods=["POST"])
@login_required
def link_existing(name: str) -> ResponseReturnValue:
    product = _product(name)
    title = _title(product.name)
    form = LinkExistingForm()
    next_path = _next(product)
    user: User = current_user.user
    refused = _before_change(product, next_path, form, link_form=form)
    if refused is not None:
        return refused
    email = canonical_email(form.email.data) or ""
    account = f"link:{product.name}:{email or user.id}"
    ip = client_ip()
    blocked = throttle.check(account, ip)
    if blocked:
        message = retry_message(blocked.retry_after)
        page, _ = _page(product, next_path, error=message, link_form=form)
        return too_many_attempts(page, blocked.retry_after)
    client = api.client_for(product.name)
    try:
        product_user = client.verify_credentials(
            email or form.email.data or "", form.password.data or ""
        )
    except api.InvalidCredentials:
        throttle.record_failure(account, ip)
        db().commit()
        form.password.data = ""
        # At the field it is about (and in the page's error summary, linked to it).
        form.password.errors = [GENERIC_LINK_ERROR.format(title=title)]
        return _page(product, next_path, 401, link_form=form)
    except api.ProductError:
        return _unavailable(product, next_path)
    throttle.record_success(account)
    if canonical_email(product_user.email) != user.email:
        db().commit()
        return _page(
            product, next_path, 409, error=_mismatch(title, product_user.email, user.email),
            link_form=form,
        )
    if _linked_elsewhere(product.name, product_user.id, user.id):
        db().commit()
        return _page(product, next_path, 409, error=ALREADY_LINKED.format(title=title))
    try:
        client.link_user(product_user.id, user.id, user.email)
    except api.AlreadyLinked as exc:
        db().commit()
        message = CONSOLE_ALREADY_LINKED if exc.code == "console_user_already_linked" else (
            ALREADY_LINKED
        )
        return _page(product, next_path, 409, error=message.format(title=title))
    except api.ProductError:
        db().commit()
        return _unavailable(product, next_path)
    if not _record_link(user, product.name, product_user.id, "linked"):
        return _page(product, next_path, 409, error=ALREADY_LINKED.format(title=title))
    return Response(status=302, headers={"Location": next_path})


@bp.route("/link/<name>/new", methods=["POST"])
@login_required
def create_new(name: str) -> ResponseReturnValue:
    product = _product(name)
    title = _title(product.name)
    next_path = _next(product)
    user: User = current_user.user
    refused = _before_change(product, next_path, CreateProductUserForm())
    if refused is not None:
        return refused
    client = api.client_for(product.name)
    origin = "created"
    try:
        product_user = client.create_user(user.email, user.id)
    except api.EmailInUse:
        try:
            ours = _already_ours(client, user)
        except api.ProductError:
            return _unavailable(product, next_path)
        if ours is None:
            return _page(product, next_path, 409, error=EMAIL_TAKEN.format(title=title))
        product_user, origin = ours, "linked"
    except api.ProductError:
        return _unavailable(product, next_path)
    if not _record_link(user, product.name, product_user.id, origin):
        return _page(product, next_path, 409, error=ALREADY_LINKED.format(title=title))
    return Response(status=302, headers={"Location": next_path})


def _already_ours(
    client: api.ProductClient, user: User
) -> api.ProductUser | None:
    """The product user with this email if the product already records it as linked to *this*
    Console user (an earlier attempt that the gateway did not get to record), else None."""
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


def _record_link(user: User, product: str, product_user_id: str, origin: str) -> bool:
    """Insert the gateway's side of the link and audit it; False if another user holds it."""
    row = ProductLink(user_id=user.id, product=product, product_user_id=product_user_id,
                      origin=origin)
    try:
        with db().begin_nested():
            db().add(row)
    except IntegrityError:
        mine = existing_link(user.id, product)
        db().commit()
        return mine is not None and mine.product_user_id == product_user_id
    event = "product_created" if origin == "created" else "product_linked"
    audit.record(event, user.id, product=product, product_user_id=product_user_id)
    db().commit()
    invalidate_cached_checks()  # the switcher of other products shows the new link at once
    verb = "created and linked" if origin == "created" else "linked"
    flash(f"Your {_title(product)} user is {verb}: you sign in to {_title(product)} with your "
          "Console account now.", "success")
    return True


def _mismatch(title: str, product_email: str, console_email: str) -> str:
    return (
        f"Your {title} user's email is {product_email}, but your Console email is "
        f"{console_email}. They must be the same to link. Change one first: either change your "
        f"Console email to {product_email} in Console settings, or change the email of your "
        f"{title} user to {console_email} in {title}, then come back and link."
    )


def note_product_login_redirect(login_hint: str | None, next_path: str) -> None:
    """Audit a person sent by a product's own login page (``/login?login_hint=..&next=/p/``).

    One indexed lookup and one insert; the page shown is the same whoever the hint names, so
    this is no enumeration oracle.
    """
    product = next(
        (p for p in products() if next_path.lower().startswith(p.prefix.lower() + "/")), None
    )
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
    audit.record("product_login_redirect", user_id, product=product.name)
    db().commit()


def handoff_product(login_hint: str | None, next_path: str) -> str | None:
    """The name of the product whose own login page sent this person here (it sends a linked
    user's email as ``login_hint`` and its own path as ``next``), for the sign-in page to say
    "<Product> now uses your Console sign-in". The same for any hint: no account is looked up.
    """
    if not login_hint:
        return None
    for product in products():
        if next_path.lower().startswith(product.prefix.lower() + "/"):
            return _title(product.name)
    return None
