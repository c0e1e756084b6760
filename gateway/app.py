"""The gateway's app factory, in order: settings, database, keys, products, hooks, blueprints, CLI,
WSGI wrappers, background work.

Each step only binds what a package already defines; the packages never import this module,
so the factory is the one place that knows the whole pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_login.config import COOKIE_NAME as REMEMBER_COOKIE

from config import gateway as gateway_config
from gateway import background, cli, db, keys
from gateway.admin import api as admin_api
from gateway.admin import audit as admin_audit
from gateway.admin import clients as admin_clients
from gateway.admin import guard as admin_guard
from gateway.admin import oauth
from gateway.admin import people as admin_people
from gateway.admin import policy as admin_policy
from gateway.console import (
    auth,
    dev_mailbox,
    enrolment_gate,
    health,
    home,
    linking,
    organization_domains,
    organization_scim,
    organization_sso,
    organizations,
    passkeys,
    plan,
    recovery,
    sso,
    sso_oidc,
    sso_saml,
)
from gateway.console.settings import account, devices, email, twofactor
from gateway.identity import signin
from gateway.identity.sessions import RememberingCookieSessions, login_manager, session_epoch
from gateway.keys import jwks, key_store
from gateway.organizations.sso import enforcement
from gateway.products import switcher, table
from gateway.proxy.asgi import AnswerServer
from gateway.proxy.forward_answer import ForwardAuth
from gateway.proxy.principal import SessionChecks
from gateway.proxy.settings import ProxySettings
from gateway.proxy.signing import Signer
from gateway.proxy.wsgi import ProxyApp
from gateway.scim import api as scim_api
from gateway.web import (
    errors,
    hosts,
    limits,
    observability,
    security_headers,
    support,
    templating,
)
from gateway.web.bodies import ReceiveBodies, Receiver
from gateway.web.client import ForwardedFromPeers, Networks, networks
from gateway.web.csrf import csrf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The Console's blueprints (the proxy and forward-auth answer in front of them: _wrap_wsgi).
BLUEPRINTS = (
    auth.bp,
    recovery.bp,
    home.bp,
    account.bp,
    email.bp,
    twofactor.bp,
    devices.bp,
    passkeys.bp,
    plan.bp,
    organizations.bp,
    organization_domains.bp,
    organization_scim.bp,
    organization_sso.bp,
    sso.bp,
    sso_oidc.bp,
    sso_saml.bp,
    linking.bp,
    health.bp,
    jwks.bp,
    dev_mailbox.bp,
    admin_people.bp,
    admin_audit.bp,
    admin_clients.bp,
    admin_policy.bp,
    admin_api.bp,
    oauth.bp,
    scim_api.bp,
)


def create_app(
    test_config: Mapping[str, Any] | None = None,
    switches: gateway_config.GatewayTestSwitches = gateway_config.PRODUCTION,
) -> Flask:
    """Build the gateway app from defaults, the environment and ``test_config``; ``switches``
    are for test fixtures only (refused outside ``APP_ENV=test``)."""
    loaded = gateway_config.load_settings(test_config)
    gateway_config.check_switches(switches, loaded.settings.APP_ENV)

    app = Flask(
        __name__,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder="static",
    )
    _apply_settings(app, loaded)
    app.extensions[gateway_config.SWITCHES_KEY] = switches
    db.init_app(app)
    keys.init_app(app, key_commands=cli.keys.requested())
    table.init_app(app)
    _install_hooks(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    errors.init_app(app)
    cli.init_app(app)
    _wrap_wsgi(app)
    background.init_app(app)
    return app


def _wrap_wsgi(app: Flask) -> None:
    """Outermost first: every request body received under its deadline and bound (so nothing
    inside ever waits on a client's body), ``ProxyFix`` for the trusted hops (only for the
    edges' requests when forward-auth names them), then the proxy and forward-auth (product
    prefixes, ``/auth/...``), then the Console's Flask app for everything else."""
    edges = networks(app.config["FORWARD_AUTH_ALLOW"])
    app.wsgi_app = _proxy(app, edges, app.wsgi_app)  # type: ignore[method-assign]
    if app.config["TRUSTED_PROXY_HOPS"]:
        app.wsgi_app = ForwardedFromPeers(  # type: ignore[method-assign]
            app.wsgi_app, app.config["TRUSTED_PROXY_HOPS"], edges
        )
    app.wsgi_app = ReceiveBodies(app.wsgi_app, Receiver.from_settings(app.config))  # type: ignore[method-assign]


def _proxy(app: Flask, edges: Networks, console: Any) -> ProxyApp:
    """The proxy and forward-auth with their dependencies: the session reader (the Console's
    session cookie, checked in an app context), the product table, the signer, the settings."""
    products = table.products(app)
    return ProxyApp(
        console,
        sessions=_session_checks(app),
        table=products,
        signer=Signer(key_store(app), app.config["PUBLIC_URL"],
                      int(app.config["ASSERTION_MAX_AGE"]), products),
        settings=ProxySettings.from_config(app.config, edges, REMEMBER_COOKIE),
        pages=errors.ErrorPages(app),
    )


def _session_checks(app: Flask) -> SessionChecks:
    cookies = app.session_interface

    def token_of(cookie: str) -> object:
        return cookies.token(app, cookie)  # type: ignore[attr-defined]

    return SessionChecks(token_of, float(app.config["SESSION_CACHE_SECONDS"]),
                         app.app_context, lambda: session_epoch(app))


def create_answer_app(
    test_config: Mapping[str, Any] | None = None,
    switches: gateway_config.GatewayTestSwitches = gateway_config.PRODUCTION,
) -> AnswerServer:
    """The answer server's ASGI app (forward-auth only; ``config/gunicorn_answers.py``): the
    same settings, database, keys, products and forward-auth answer as :func:`create_app`'s,
    served by an event loop. Its ``/readyz`` checks the database it reads sessions from."""
    return answer_server(create_app(test_config, switches))


def answer_server(app: Flask) -> AnswerServer:
    """The answer server over ``app``'s settings, database and keys (``python app.py`` serves
    it beside ``app`` in one process)."""
    proxy = _proxy(app, networks(app.config["FORWARD_AUTH_ALLOW"]), None)
    forward = ForwardAuth(sessions=proxy.sessions, table=proxy.table, signer=proxy.signer,
                          settings=proxy.settings)
    assert isinstance(proxy.sessions, SessionChecks)

    def ready() -> tuple[dict[str, str], bool]:
        with app.app_context():
            checks = {"database": health.database_check()}
        return checks, checks["database"] == "ok"

    return AnswerServer(forward, proxy.sessions, proxy.pages,
                        hops=int(app.config["TRUSTED_PROXY_HOPS"]), ready=ready)


def _apply_settings(app: Flask, loaded: gateway_config.GatewayConfig) -> None:
    """Flask's config from the checked settings (every setting under its own key, so
    ``app.config["X"]`` reads keep working), then the Flask options they imply."""
    settings = loaded.settings
    app.config.update(loaded.flask_config())
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.SESSION_MAX_AGE),
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_FORM_PARTS=100,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        TEMPLATES_AUTO_RELOAD=settings.APP_ENV == "development",
    )


def _install_hooks(app: Flask) -> None:
    """The request pipeline every page shares, in the order the hooks run."""
    observability.init_app(app)
    hosts.init_app(app)
    security_headers.init_app(app)
    limits.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.unauthorized_handler(auth.sign_in_first)
    enrolment_gate.init_app(app)
    app.session_interface = RememberingCookieSessions()
    app.extensions[signin.GATE_KEY] = enforcement.gate
    switcher.init_app(app)
    templating.init_app(app)
    support.init_app(app)
    admin_guard.init_app(app)
    oauth.init_app(app)
