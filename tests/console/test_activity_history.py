"""A person's Activity page keeps their real events: what strangers can trigger anonymously
writes no rows on their account (the security review).
"""

from __future__ import annotations

import pytest
from flask import Flask

from gateway.identity import audit
from tests.support.console import PASSWORD, Actions, make_gateway_app


def _actions(app: Flask) -> Actions:
    return Actions(app, app.test_client())


@pytest.mark.cwe(223)
def test_anonymous_login_hints_cannot_flush_a_users_activity(database_url: str) -> None:
    """``/login?login_hint=<victim>&next=/segment/`` is public and wrote one audit row per GET
    on the victim's account: 50 GETs pushed every real event (a sign-in, failed attempts) off
    the victim's Activity page, hiding an intruder."""
    app = make_gateway_app(database_url)
    actions = _actions(app)
    user = actions.create_user("watched@example.com")
    assert actions.sign_in("watched@example.com", PASSWORD).status_code == 302
    anonymous = app.test_client()
    for _ in range(60):
        hint = "/login?login_hint=watched@example.com&next=/segment/"
        assert anonymous.get(hint).status_code == 200
    with app.test_request_context():
        events = [event.event for event in audit.recent_events(user.id)]
    assert "login" in events
