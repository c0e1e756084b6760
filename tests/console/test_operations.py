"""Configuration layers, production refusal of demo secrets, CLI, migrations, health."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, inspect

from config import ConfigError, load
from config.gateway import GatewaySettings
from gateway import create_app
from gateway import db as gateway_db
from gateway.db import Base
from gateway.keys.store import KeyStore
from tests.support.console import Actions, current_code, make_gateway_app
from tests.support.csrf import csrf_token


def test_environment_overrides_defaults_and_tests_override_both() -> None:
    environ = {"SMTP_PORT": "2525", "COOKIE_SECURE": "true", "LOGIN_MAX_FAILURES": "7"}
    settings = load(GatewaySettings, {"LOGIN_MAX_FAILURES": 3}, environ=environ)
    assert settings.SMTP_PORT == 2525
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.LOGIN_MAX_FAILURES == 3


def test_production_refuses_demo_secrets(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"APP_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    strong = {key: "s" * 40 for key in ("SECRET_KEY", "SEGMENT_SCIM_TOKEN", "SENDGRID_SCIM_TOKEN")}
    strong |= {"SUPPORT_EMAIL": "help@example.com", "SMTP_HOST": "mail.example"}
    keys = f"{tmp_path}/keys"
    strong |= {"ASSERTION_KEY_DIR": keys, "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
    with pytest.raises(ConfigError, match="flask keys init"):  # no signing key at all
        create_app({"APP_ENV": "production"} | strong)
    KeyStore(keys).ensure(demo=True)  # what `python app.py` leaves in instance/keys
    with pytest.raises(ConfigError, match="demo key"):
        create_app({"APP_ENV": "production"} | strong)
    assert "demo-insecure-" in " ".join(os.listdir(keys))
    shutil.rmtree(keys)
    KeyStore(keys).init()  # the operator's `flask keys init`
    app = create_app({"APP_ENV": "production"} | strong)
    assert app.config["APP_ENV"] == "production"
    assert app.test_client().get("/dev/mailbox").status_code == 404


def test_production_refuses_to_start_without_a_support_route() -> None:
    """People who lose their second factor are sent to support: production must say where."""
    strong = {key: "s" * 40 for key in ("SECRET_KEY", "SEGMENT_SCIM_TOKEN", "SENDGRID_SCIM_TOKEN")}
    with pytest.raises(ConfigError, match="SUPPORT_URL or SUPPORT_EMAIL"):
        create_app({"APP_ENV": "production", "DATABASE_URL": "sqlite://"} | strong)


def test_production_refuses_to_start_without_an_smtp_server() -> None:
    """Without SMTP_HOST mail would stay in the outbox with its links in clear: production
    must send it."""
    strong = {key: "s" * 40 for key in ("SECRET_KEY", "SEGMENT_SCIM_TOKEN", "SENDGRID_SCIM_TOKEN")}
    strong["SUPPORT_EMAIL"] = "help@example.com"
    with pytest.raises(ConfigError, match="SMTP_HOST"):
        create_app({"APP_ENV": "production", "DATABASE_URL": "sqlite://"} | strong)


@pytest.mark.parametrize("bad", [
    {"SUPPORT_URL": "javascript:alert(1)"},
    {"SUPPORT_URL": "help.example.com"},
    {"SUPPORT_URL": 'https://help.example/"><script>'},
    {"SUPPORT_EMAIL": "not an address"},
    {"SUPPORT_EMAIL": "a@b.example, c@d.example"},
], ids=["script-url", "no-scheme", "quote", "no-address", "two-addresses"])
def test_support_route_must_be_one_a_browser_can_follow(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="SUPPORT_"):
        create_app({"APP_ENV": "test", "DATABASE_URL": "sqlite://"} | bad)


def test_migrations_build_the_same_schema_as_the_models(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/migrated.db"
    app = create_app({"APP_ENV": "test", "DATABASE_URL": url})
    result = app.test_cli_runner().invoke(args=["db-upgrade"])
    assert result.exit_code == 0, result.output
    inspector = inspect(create_engine(url))
    for table in Base.metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name


def test_cli_create_user_and_sessions(app: Flask, actions: Actions) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "ops@example.com", "--password",
                                 "an operator passphrase"])
    assert result.exit_code == 0, result.output
    weak = runner.invoke(args=["create-user", "weak@example.com", "--password", "password1234"])
    assert weak.exit_code != 0 and "too common" in weak.output
    assert actions.sign_in("ops@example.com", "an operator passphrase").status_code == 302
    listed = runner.invoke(args=["sessions", "list", "--email", "ops@example.com"])
    assert "ops@example.com" in listed.output
    revoked = runner.invoke(args=["sessions", "revoke", "--email", "ops@example.com"])
    assert "revoked 1" in revoked.output
    assert actions.client.get("/").status_code == 302


def test_cli_revocation_is_audited_and_ends_a_waiting_2fa_sign_in(
    app: Flask, actions: Actions
) -> None:
    """The operator's "revoke --email" is the person's "sign out everywhere": on the Activity
    page, and a sign-in waiting for its 2FA code dies with it."""
    actions.create_user("ops@example.com", totp=True)
    assert actions.sign_in("ops@example.com").headers["Location"].startswith("/login/2fa")
    revoked = app.test_cli_runner().invoke(
        args=["sessions", "revoke", "--email", "ops@example.com"]
    )
    assert revoked.exit_code == 0, revoked.output
    waiting = actions.client.get("/login/2fa")
    assert waiting.status_code == 302 and "/login/2fa" not in waiting.headers["Location"]
    assert actions.client.get("/").status_code == 302  # not signed in
    user = actions.user("ops@example.com")
    actions.sign_in("ops@example.com")
    actions.enter_code(current_code(user.totp_secret))
    activity = actions.client.get("/settings/activity").get_data(as_text=True)
    assert "Signed out everywhere" in activity


@pytest.mark.parametrize("agent", ["", "curl/8", "kube-probe/1.29", "x" * 5000])
def test_health_endpoints_whatever_the_user_agent(app: Flask, agent: str) -> None:
    client = app.test_client()
    assert client.get("/healthz", headers={"User-Agent": agent}).get_json() == {"status": "ok"}
    ready = client.get("/readyz", headers={"User-Agent": agent})
    assert ready.get_json()["checks"]["database"] == "ok"


def test_readyz_reports_database_down() -> None:
    app = create_app({"APP_ENV": "test",
                      "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"


def test_plan_shown_and_upgrade_needs_confirmation(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in()
    home = actions.client.get("/").get_data(as_text=True)
    assert 'data-plan="trial" data-testid="console-plan">Console Trial<' in home
    page = actions.client.get("/upgrade").get_data(as_text=True)
    assert "Confirm upgrade" in page
    assert "What changes with Console Unlimited" in page and "No trial limits" in page
    assert actions.client.post("/upgrade").status_code == 400  # no CSRF token: nothing changes
    assert actions.user("user@example.com").plan == "trial"
    assert actions.post("/upgrade").status_code == 302
    assert actions.user("user@example.com").plan == "upgraded"
    settings = actions.client.get("/settings").get_data(as_text=True)
    assert "You are on Console Unlimited now." in settings
    activity = actions.client.get("/settings/activity").get_data(as_text=True)
    assert 'data-event="plan_upgraded"' in activity


def test_a_locked_sqlite_database_is_a_503_page_not_a_500(tmp_path: object) -> None:
    """On SQLite a writer that waits past the busy timeout raises OperationalError: the same
    clear 503 as a database that is down."""
    path = f"{tmp_path}/locked.db"
    schema = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(schema)
    schema.dispose()
    app = make_gateway_app(f"sqlite:///{path}")
    actions = Actions(app, app.test_client())
    actions.create_user()
    # The busy timeout is 15 s; the test's connections wait 50 ms for the lock instead.
    engine = gateway_db.engine(app)
    event.listen(engine, "connect",
                 lambda connection, _record: connection.execute("PRAGMA busy_timeout = 50"))
    engine.dispose()
    form = {"csrf_token": csrf_token(actions.client, "/login"), "email": "user@example.com",
            "password": "wrong password"}
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
        response = actions.client.post("/login", data=form, headers={"Accept": "text/html"})
    finally:
        holder.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "briefly unavailable" in response.get_data(as_text=True)
