"""Settings: timezone per product, Console-managed fields, Segment's session history."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.product_apps import Helper, make_product_app

JSON = {"Accept": "application/json"}


def test_timezone_saved_per_product(h: Helper) -> None:
    h.sign_in(*h.password_user)
    assert h.client.post("/settings/timezone", data={"timezone": "Europe/Paris"}).status_code == 302
    assert h.user(h.password_user[0]).timezone == "Europe/Paris"
    page = h.client.get("/settings").get_data(as_text=True)
    assert "<option selected>Europe/Paris</option>" in page


def test_timezone_is_independent_between_products(tmp_path: Any) -> None:
    from product_stubs import segment, sendgrid

    seg = make_product_app(segment, "segment", tmp_path)
    sg = make_product_app(sendgrid, "sendgrid", tmp_path)
    seg_client, sg_client = seg.test_client(), sg.test_client()
    Helper(seg, seg_client, "segment").sign_in("alice@example.com", "segment-alice-pass")
    Helper(sg, sg_client, "sendgrid").sign_in("alice@example.com", "sendgrid-alice-pass")
    seg_client.post("/settings/timezone", data={"timezone": "Asia/Tokyo"})
    sg_client.post("/settings/timezone", data={"timezone": "America/New_York"})
    assert Helper(seg, seg_client, "segment").user("alice@example.com").timezone == "Asia/Tokyo"
    assert (
        Helper(sg, sg_client, "sendgrid").user("alice@example.com").timezone == "America/New_York"
    )


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "../../etc/passwd", "x" * 5000, "utc "])
def test_bad_timezone_is_400(h: Helper, value: str) -> None:
    h.sign_in(*h.password_user)
    assert h.client.post("/settings/timezone", data={"timezone": value}).status_code == 400
    assert h.user(h.password_user[0]).timezone == "UTC"


def test_unlinked_user_settings_are_local(h: Helper) -> None:
    h.sign_in(*h.password_user)
    page = h.client.get("/settings").get_data(as_text=True)
    assert "Managed in the Console" not in page


def test_session_history_records_password_and_unified_logins(h: Helper) -> None:
    email, password = h.password_user
    h.client.post(
        "/login",
        data={"step": "password", "email": email, "password": password},
        headers={"User-Agent": "PasswordBrowser/1.0"}
        | h.forwarded("/login", "POST", **{"for": "198.51.100.4"}),
    )
    response = h.client.get("/settings/sessions")
    if h.product == "sendgrid":
        assert response.status_code == 404
        return
    page = response.get_data(as_text=True)
    assert "PasswordBrowser/1.0" in page and "198.51.100.4" in page and ">password<" in page

    user_id, console = h.linked_user()
    gateway = h.app.test_client()
    for i in range(3):  # three requests of one gateway session: one entry
        headers = (
            h.assertion(user_id, console, "/", session_id="gw-session-A")
            | {
                "User-Agent": "GatewayBrowser/2.0",
            }
            | h.forwarded("/", **{"for": "203.0.113.9"})
        )
        assert gateway.get("/", headers=headers).status_code == 200, i
    headers = h.assertion(user_id, console, "/", session_id="gw-session-B")
    gateway.get("/", headers=headers)
    history = gateway.get(
        "/settings/sessions",
        headers=h.assertion(user_id, console, "/settings/sessions", session_id="gw-session-B"),
    ).get_data(as_text=True)
    assert history.count("unified login") == 2
    assert "GatewayBrowser/2.0" in history and "203.0.113.9" in history
    assert "PasswordBrowser" not in history  # only this user's entries


def test_healthz(h: Helper) -> None:
    response = h.client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {
        "status": "ok",
        "product": h.product,
    }


def test_demo_seed_is_idempotent_and_link_helper(module: Any, h: Helper) -> None:
    module.seed_demo_data(h.app)
    module.seed_demo_data(h.app)
    email, password = h.password_user
    assert h.sign_in(email, password).status_code == 302
    user_id = module.link_user_for_demo(h.app, "alice@example.com", "console-alice")
    assert module.link_user_for_demo(h.app, "alice@example.com", "console-alice") == user_id
    alice = h.user("alice@example.com")
    assert alice.external_id == "console-alice" and alice.password_hash is None


def test_production_refuses_demo_secrets(module: Any) -> None:
    from config import ConfigError

    with pytest.raises(ConfigError):
        module.create_app({"APP_ENV": "production", "DATABASE_URL": "sqlite://"})


def test_test_switches_refused_outside_test_mode(module: Any, tmp_path: Any) -> None:
    from config import ConfigError
    from config.products import ProductTestSwitches

    config = {"APP_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    with pytest.raises(ConfigError, match="test switches"):
        module.create_app(config, ProductTestSwitches(fast_password_hashing=True))
    stored = module.create_app(config).extensions["product_passwords"].hash("a password of mine")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_each_product_has_its_own_database_and_look(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from product_stubs import segment, sendgrid

    monkeypatch.chdir(tmp_path)
    seg = segment.create_app({"APP_ENV": "test"})
    sg = sendgrid.create_app({"APP_ENV": "test"})
    assert seg.config["DATABASE_URL"] == "sqlite:///instance/segment.db"
    assert sg.config["DATABASE_URL"] == "sqlite:///instance/sendgrid.db"
    assert seg.config["SESSION_COOKIE_NAME"] != sg.config["SESSION_COOKIE_NAME"]
    assert "Segment" in seg.test_client().get("/login").get_data(as_text=True)
    assert "SendGrid" in sg.test_client().get("/login").get_data(as_text=True)
    assert (tmp_path / "instance" / "segment.db").exists()
