"""A gateway started without APP_ENV is production and refuses the demo secrets (issue 10's
attack run, finding 13).
"""

from __future__ import annotations

from typing import Any

import pytest

from config import ConfigError
from gateway import create_app, db
from gateway.keys.store import KeyStore


@pytest.mark.cwe(1188)
def test_gateway_without_app_env_is_production_and_refuses_demo_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="refusing to start in production"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/g.db"})
    keys = str(tmp_path / "keys")
    KeyStore(keys).init()  # the operator's `flask keys init`: a real signing key
    real = {"SECRET_KEY": "k" * 40, "SEGMENT_SCIM_TOKEN": "s" * 40, "SENDGRID_SCIM_TOKEN": "t" * 40,
            "ASSERTION_KEY_DIR": keys, "DATABASE_URL": f"sqlite:///{tmp_path}/g.db",
            "SUPPORT_EMAIL": "help@example.com",  # production names a support route too
            "SMTP_HOST": "mail.example"}  # and sends its mail
    app = create_app(real)
    assert app.config["APP_ENV"] == "production"
    assert app.test_client().get("/dev/mailbox").status_code == 404  # no public mailbox
    db.engine(app).dispose()
