"""An admin API bearer token for the operator-console tests: an owner makes a client on the
console page, and the client asks ``POST /oauth/token`` (client credentials, HTTP Basic)."""

from __future__ import annotations

import re

from flask import Flask

from tests.support.console import csrf_token
from tests.support.operators import Operator


def bearer_token(app: Flask, owner: Operator, scopes: tuple[str, ...],
                 role: str = "admin") -> str:
    client = owner.actions.client
    page = client.post("/admin/clients", data={
        "csrf_token": csrf_token(client, "/admin/clients"), "name": "helpdesk",
        "role": role, "scopes": list(scopes)}).get_data(as_text=True)
    client_id = re.search(r'data-testid="client-id">([^<]+)<', page)
    secret = re.search(r'data-testid="secret">([^<]+)<', page)
    assert client_id and secret, page[:2000]
    answer = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                    auth=(client_id.group(1), secret.group(1)))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return str(answer.get_json()["access_token"])
