"""Build one product app from its profile (the Segment and SendGrid factories call this)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from config.products import PRODUCTION, ProductTestSwitches, load_product
from gateway.assertion import AssertionVerifier, JwksFile, KeySource, RemoteJwks, valid_host
from product_stubs.kit import auth, internal, mail, scim, settings, signup, teams
from product_stubs.kit.db import init_db
from product_stubs.kit.forwarding import GatewayForwarding
from product_stubs.kit.identity import load_identity
from product_stubs.kit.landing import show_landing_notice
from product_stubs.kit.passwords import Passwords
from product_stubs.kit.profile import ProductProfile
from product_stubs.kit.throttle import Throttle

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_product_app(
    profile: ProductProfile,
    test_config: dict[str, Any] | None,
    switches: ProductTestSwitches = PRODUCTION,
) -> Flask:
    """Build one product app; ``switches`` are for test fixtures only."""
    app = Flask(profile.name, template_folder=profile.template_folder)
    app.config.from_mapping(
        load_product(profile.name, test_config, port=profile.port, switches=switches)
    )
    app.extensions["product_profile"] = profile
    verifier = AssertionVerifier(
        profile.name,
        issuer=app.config["GATEWAY_PUBLIC_URL"],
        keys=_gateway_keys(app.config),
        skew=app.config["ASSERTION_SKEW"],
    )
    app.extensions["product_verifier"] = verifier
    # The gateway strips the public prefix and sends X-Forwarded-For/Proto/Host/Prefix, signed:
    # believed with that signature only (kit/forwarding.py).
    app.wsgi_app = GatewayForwarding(  # type: ignore[method-assign]
        app.wsgi_app, verifier, app.config["PUBLIC_PREFIX"]
    )
    app.extensions["product_passwords"] = Passwords(fast=switches.fast_password_hashing)
    app.extensions["product_throttle"] = Throttle()
    init_db(app)

    app.before_request(_refuse_bad_host)  # first: nothing is built from such a Host
    csrf.init_app(app)
    csrf.exempt(scim.bp)
    csrf.exempt(internal.bp)
    csrf.exempt(internal.test_bp)
    app.before_request(load_identity)
    app.before_request(show_landing_notice)
    app.register_blueprint(auth.bp)
    app.register_blueprint(signup.bp)
    app.register_blueprint(mail.bp)
    app.register_blueprint(teams.build(profile))
    app.register_blueprint(settings.bp)
    app.register_blueprint(scim.bp)
    internal.register(app, fault_endpoint=switches.fault_endpoint)

    @app.context_processor
    def _product() -> dict[str, Any]:
        return {"product": profile, "gateway_url": app.config["GATEWAY_PUBLIC_URL"]}

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo users, workspaces/accounts and roles (idempotent)."""
        importlib.import_module(f"product_stubs.{profile.name}").seed_demo_data(app)
        print(f"{profile.title}: demo data ready in {app.config['DATABASE_URL']}")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", product=profile.name)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return error_response(exc)

    return app


def _gateway_keys(config: dict[str, Any]) -> KeySource:
    """The gateway's public keys: a pinned JWKS file if set, else its JWKS URL."""
    if config["JWKS_FILE"]:
        return JwksFile(config["JWKS_FILE"])
    return RemoteJwks(config["GATEWAY_INTERNAL_URL"] + "/.well-known/jwks.json")


def _bad_host() -> bool:
    """The Host (after the signed X-Forwarded-Host, kit/forwarding.py) is one no URL can be
    built from: the rule of the vendored module, the one the gateway applies before signing."""
    host = request.environ.get("HTTP_HOST")
    return host is not None and not valid_host(host)


def _refuse_bad_host() -> None:
    if _bad_host():
        abort(400)


def error_response(exc: HTTPException) -> Response:
    """SCIM errors under /scim, JSON under /internal, a readable page elsewhere."""
    status = exc.code or 500
    if request.path.startswith("/scim/"):
        return scim.error_response(status, exc.description or exc.name)
    if request.path.startswith("/internal/"):
        response = jsonify(error=exc.name.lower().replace(" ", "_"))
        response.status_code = status
        return response
    message = exc.description if isinstance(exc, CSRFError) or status < 500 else exc.name
    body = (f"<!doctype html><html lang=\"en\"><title>{status}</title><h1>{status}</h1>"
            f"<p>{escape(message)}</p></html>")
    if not _bad_host():  # else the page's links cannot be built: the page without them
        try:
            body = render_template("kit/error.html", code=status, message=message)
        except Exception:  # an error page never fails in turn: the plain page
            log.exception("error page failed")
    headers = dict(exc.get_response().headers)
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    return Response(body, status=status, headers=headers, mimetype="text/html")
