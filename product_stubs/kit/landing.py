"""The one-time notice the gateway sends a person to a product page with (``?gw_notice=``),
after linking or creating their product user: verified with the vendored assertion module
(``AssertionVerifier.verify_notice``: this product, this person, this page, once), shown in
this product's own words for a code it knows, and taken out of the address bar.

A notice that does not verify (forged, copied to another person, replayed, expired) or a code
this product does not know shows nothing; the page is the same either way.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, flash, g, redirect, request
from werkzeug.wrappers import Response

from gateway.assertion import NOTICE_PARAM, AssertionVerifier, InvalidAssertion
from product_stubs.kit.identity import profile

#: What each code says ({title}: the product's name).
NOTICES = {
    "linked": "Your {title} user is linked: you sign in to {title} with your Console account now.",
    "created": "Your {title} user is created and linked: you sign in to {title} with your "
    "Console account now.",
}


def show_landing_notice() -> Response | None:
    """``before_request`` after ``load_identity``: a GET carrying a notice is answered with
    the same page without it, the notice flashed there when it verifies for this person."""
    token = request.args.get(NOTICE_PARAM)
    if token is None or request.method != "GET":
        return None
    identity = g.get("identity")
    if identity is not None:
        verifier: AssertionVerifier = current_app.extensions["product_verifier"]
        try:
            code = verifier.verify_notice(
                token, console_user_id=identity.console_user_id, path=request.path
            )
        except InvalidAssertion:
            code = ""
        if code in NOTICES:
            flash(NOTICES[code].format(title=profile().title))
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != NOTICE_PARAM]
    return redirect(request.script_root + request.path + ("?" + urlencode(rest) if rest else ""))
