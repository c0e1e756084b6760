"""``/scim/v2/``: the blueprint of SCIM 2.0 Users for the organizations' IdPs (RFC 7644).

What it answers is :mod:`gateway.scim.views`, imported on the first SCIM request rather than
here: with scim2-models (and pydantic) it takes about 0.6 s to import, which every gateway
process (the server, the answer server, each worker, each CLI command) would pay at start for
an API most of them never serve. So this module names only what it can without scim2-models:
the rules, the token check, and the refusals whose classes are the gateway's or werkzeug's
(scim2-models' own are answered in the views).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint
from werkzeug.exceptions import HTTPException

from gateway.organizations.errors import NotAllowed, NotFound
from gateway.organizations.provisioning import Conflict, Invalid, Unavailable
from gateway.web.csrf import csrf

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
csrf.exempt(bp)  # a bearer token authenticates, never a cookie

#: Every method reaches the views: a wrong one is their SCIM 405, never Flask's page.
ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]
#: Each view of gateway.scim.views (the endpoint) and its rules.
ROUTES = {
    "users": ("/Users",),
    "user": ("/Users/<member_id>",),
    "search": ("/.search", "/Users/.search"),
    "service_provider_config_view": ("/ServiceProviderConfig",),
    "resource_types": ("/ResourceTypes",),
    "resource_type": ("/ResourceTypes/<name>",),
    "schemas": ("/Schemas",),
    "schema": ("/Schemas/<path:schema_id>",),
    "unknown": ("/", "/<path:_rest>"),
}
#: The refusals answered as SCIM error documents, each by its function in gateway.scim.views.
REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (HTTPException, "http_refusal"),
    (NotFound, "not_found"),
    (NotAllowed, "not_allowed"),
    (Invalid, "invalid"),
    (Conflict, "conflict"),
    (Unavailable, "unavailable"),
)


def _deferred(name: str) -> Callable[..., Any]:
    """``gateway.scim.views.<name>``, the views imported by its first call (the import lock
    makes concurrent first requests wait for that one import)."""

    def call(*args: Any, **values: Any) -> Any:
        from gateway.scim import views

        return getattr(views, name)(*args, **values)

    call.__name__ = name
    return call


def _register(blueprint: Blueprint) -> None:
    """The token check, the refusals and the rules, each deferred to gateway.scim.views."""
    blueprint.before_request(_deferred("authenticate"))
    for refusal, handler in REFUSALS:
        blueprint.register_error_handler(refusal, _deferred(handler))
    for endpoint, rules in ROUTES.items():
        view = _deferred(endpoint)
        for rule in rules:
            blueprint.add_url_rule(rule, endpoint, view, methods=ANY)


_register(bp)
