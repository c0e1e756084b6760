"""First visit to an unlinked product: link an existing product user, or create a new one.

``/link/<product>`` is where the proxy sends a signed-in person who has no link to that product
yet (``?next=`` is the page they asked for). The pages parse the form, call the linking
service (``gateway/products/linking.py``, where the rules are) and word its answer; both ways
end with a redirect to ``next``. If a product cannot be reached, the person gets a page with a
retry button.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from gateway.console.forms import CreateProductUserForm, LinkExistingForm
from gateway.console.landing_notices import with_notice
from gateway.models import User
from gateway.products import linking
from gateway.products.linking import LinkRefused, Refusal
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
#: How each refusal is answered (status, message; ``{title}`` is the product's).
ANSWERS = {
    Refusal.UNVERIFIED: (403, UNVERIFIED),
    Refusal.CHANGE_IN_PROGRESS: (409, CHANGE_IN_PROGRESS),
    Refusal.LINKED_ELSEWHERE: (409, ALREADY_LINKED),
    Refusal.CONSOLE_ALREADY_LINKED: (409, CONSOLE_ALREADY_LINKED),
    Refusal.EMAIL_TAKEN: (409, EMAIL_TAKEN),
}


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


def _page(
    product: Product,
    next_path: str,
    status: int = 200,
    *,
    error: str | None = None,
    link_form: LinkExistingForm | None = None,
    elsewhere: dict[str, str] | None = None,
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
        elsewhere=elsewhere,
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
    if linking.existing_link(current_user.user.id, product.name) is not None:
        return Response(status=302, headers={"Location": next_path})
    return _page(product, next_path)


def _refused(product: Product, next_path: str, refused: LinkRefused,
             link_form: LinkExistingForm | None = None) -> ResponseReturnValue:
    """The page for a refusal of the linking service."""
    title = _title(product.name)
    if refused.refusal is Refusal.UNAVAILABLE:
        return _unavailable(product, next_path)
    if refused.refusal is Refusal.THROTTLED and refused.blocked is not None:
        message = retry_message(refused.blocked.retry_after)
        page, _ = _page(product, next_path, error=message, link_form=link_form)
        return too_many_attempts(page, refused.blocked.retry_after)
    if refused.refusal is Refusal.WRONG_CREDENTIALS and link_form is not None:
        link_form.password.data = ""
        # At the field it is about (and in the page's error summary, linked to it).
        link_form.password.errors = [GENERIC_LINK_ERROR.format(title=title)]
        return _page(product, next_path, 401, link_form=link_form)
    if refused.refusal is Refusal.EMAIL_MISMATCH:
        user: User = current_user.user
        error = _mismatch(title, refused.product_email, user.email)
        return _page(product, next_path, 409, error=error, link_form=link_form)
    if refused.refusal is Refusal.EMAIL_OF_ANOTHER_ACCOUNT:
        return _page(product, next_path, 409, link_form=link_form,
                     elsewhere=_other_account(product, refused.product_email, next_path))
    status, message = ANSWERS[refused.refusal]
    return _page(product, next_path, status, error=message.format(title=title))


def _linked(product: Product, next_path: str, done: linking.Linked) -> Response:
    """On to ``next_path``; the product page there says what happened (a signed one-time
    notice, ``landing_notices``), or the Console does when ``next`` is not the product's."""
    if not done.new:  # a concurrent request of this person recorded it (and said so)
        return Response(status=302, headers={"Location": next_path})
    landing = with_notice(next_path, product, current_user.user.id, done.origin)
    if landing is None:
        title = _title(product.name)
        verb = "created and linked" if done.origin == "created" else "linked"
        flash(f"Your {title} user is {verb}: you sign in to {title} with your Console account "
              "now.", "success")
    return Response(status=302, headers={"Location": landing or next_path})


def _checked_form(product: Product, next_path: str, form: Any,
                  link_form: LinkExistingForm | None = None) -> ResponseReturnValue | None:
    """A valid form (CSRF), and not linked yet (then linking again is a no-op that goes on
    to ``next``)."""
    if not form.validate_on_submit():
        return _page(product, next_path, 400, link_form=link_form)
    if linking.existing_link(current_user.user.id, product.name) is not None:
        return Response(status=302, headers={"Location": next_path})
    return None


@bp.route("/link/<name>/existing", methods=["POST"])
@login_required
def link_existing(name: str) -> ResponseReturnValue:
    product = _product(name)
    form = LinkExistingForm()
    next_path = _next(product)
    answered = _checked_form(product, next_path, form, link_form=form)
    if answered is not None:
        return answered
    try:
        done = linking.link_existing(current_user.user, product, form.email.data or "",
                                     form.password.data or "", client_ip())
    except LinkRefused as refused:
        return _refused(product, next_path, refused, link_form=form)
    return _linked(product, next_path, done)


@bp.route("/link/<name>/new", methods=["POST"])
@login_required
def create_new(name: str) -> ResponseReturnValue:
    product = _product(name)
    next_path = _next(product)
    answered = _checked_form(product, next_path, CreateProductUserForm())
    if answered is not None:
        return answered
    try:
        done = linking.create_new(current_user.user, product)
    except LinkRefused as refused:
        return _refused(product, next_path, refused)
    return _linked(product, next_path, done)


def _other_account(product: Product, product_email: str, next_path: str) -> dict[str, str]:
    """The ways that work when the product user's email is another Console account's: sign
    in as that account and link from there (back to ``next_path``), or keep the product's own
    sign-in (when the product has one the gateway lets through)."""
    sign_in_as = url_for("auth.login", login_hint=product_email, next=next_path)
    own = product.prefix + "/login" if product.is_public("/login") else ""
    return {"email": product_email, "sign_in_as": sign_in_as, "own_sign_in": own}


def _mismatch(title: str, product_email: str, console_email: str) -> str:
    return (
        f"Your {title} user's email is {product_email}, but your Console email is "
        f"{console_email}. They must be the same to link. Change one first: either change your "
        f"Console email to {product_email} in Console settings, or change the email of your "
        f"{title} user to {console_email} in {title}, then come back and link."
    )
