"""OAuth 2.0 client credentials (RFC 6749 §4.4) for the admin API, on Authlib's server parts.

``POST /oauth/token`` is Authlib's ``AuthorizationServer`` with its ``ClientCredentialsGrant``
(client authentication by HTTP Basic, ``client_secret_basic``, or by form fields,
``client_secret_post``); this module only tells it where clients and tokens live
(``gateway.identity.api_clients``). :data:`require_token` is Authlib's ``ResourceProtector``
with a bearer validator over the same store: expired, unknown and revoked tokens are 401,
a missing scope 403. The endpoint answers only inside ``ADMIN_ALLOW`` and counts requests per
client address (``OAUTH_TOKEN_MAX_PER_MINUTE``, then 429) before any secret is checked.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.wrappers import Response

from gateway.admin.guard import require_allowed_network
from gateway.identity import api_clients, throttle
from gateway.models import ApiClient
from gateway.web.client import client_ip
from gateway.web.csrf import csrf

bp = Blueprint("oauth", __name__)
csrf.exempt(bp)  # no cookie authenticates here: the client's secret does


class _Client(ClientMixin):
    """An :class:`ApiClient` as Authlib asks about it: confidential, client credentials only."""

    def __init__(self, record: ApiClient) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return api_clients.allowed_scope(self.record, scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return api_clients.secret_matches(self.record, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ClientCredentialsGrant.GRANT_TYPE


class _Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _query_client(client_id: str) -> _Client | None:
    record = api_clients.active(client_id)
    return _Client(record) if record is not None else None


def _save_token(token: dict[str, Any], request: Any) -> None:
    client: _Client = request.client
    api_clients.issue(client.record, token["access_token"], token.get("scope", ""),
                      int(token["expires_in"]))


server = AuthorizationServer(query_client=_query_client, save_token=_save_token)
server.register_grant(_Grant)


class _Token(TokenMixin):
    def __init__(self, found: api_clients.Token) -> None:
        self.found = found

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.found.client.id)

    def get_scope(self) -> str:
        return self.found.scope

    def get_expires_in(self) -> int:
        return api_clients.TOKEN_SECONDS

    def is_expired(self) -> bool:
        return self.found.expired

    def is_revoked(self) -> bool:
        return False  # a revoked client's tokens are not found at all

    def get_user(self) -> None:
        return None

    def get_client(self) -> _Client:
        return _Client(self.found.client)


class _Bearer(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> _Token | None:
        found = api_clients.token(token_string)
        return _Token(found) if found is not None else None


require_token = ResourceProtector()
require_token.register_token_validator(_Bearer())


def presented_client() -> ApiClient:
    """The client whose token the current API request carries (after :data:`require_token`)."""
    from authlib.integrations.flask_oauth2 import current_token

    token: _Token = current_token  # type: ignore[assignment]
    return token.found.client


@bp.route("/oauth/token", methods=["POST"])
def issue_token() -> Response:
    require_allowed_network()
    blocked = throttle.per_client("oauth_token", client_ip(), 60,
                                  current_app.config["OAUTH_TOKEN_MAX_PER_MINUTE"])
    if blocked is not None:
        answer = jsonify(error="too_many_requests",
                         error_description="Too many token requests. Try again later.")
        answer.status_code = 429
        answer.headers["Retry-After"] = str(blocked.retry_after)
        return answer
    answer = server.create_token_response()
    assert isinstance(answer, Response)
    return answer


def init_app(app: Flask) -> None:
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN",
                          {ClientCredentialsGrant.GRANT_TYPE: api_clients.TOKEN_SECONDS})
    app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", list(api_clients.SCOPES))
    server.init_app(app)
