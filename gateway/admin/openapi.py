"""The admin API's OpenAPI 3.1 description, served at ``/admin/api/v1/openapi.json``.

Written by hand beside the routes of ``gateway.admin.api`` and ``gateway.admin.oauth``;
``tests/admin/test_api.py`` checks that every route is described and nothing else is.
"""

from __future__ import annotations

from typing import Any

_ERRORS = {
    "401": {"description": "No token, or an unknown, expired or revoked one"},
    "403": {"description": "The token's scope or the client's role does not allow this"},
}
_JSON = {"application/json": {"schema": {"type": "object"}}}
_USER_ID = {"name": "user_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
_FILTERS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
     "description": text}
    for name, text in (
        ("actor", "who acted: an account's email or id"),
        ("target", "whose account: an email or id"),
        ("event", "an event name"),
        ("since", "first day, YYYY-MM-DD (UTC)"),
        ("until", "last day, YYYY-MM-DD (UTC), included"),
    )
]


def _scoped(scope: str, operation: dict[str, Any]) -> dict[str, Any]:
    return {**operation, "security": [{"oauth": [scope]}],
            "responses": {**operation["responses"], **_ERRORS}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Unified Login admin API", "version": "1"},
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {
            "oauth": {
                "type": "oauth2",
                "description": "OAuth 2.0 client credentials (RFC 6749 §4.4); a client is "
                               "made by an owner in the operator console.",
                "flows": {"clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "scopes": {
                        "people:read": "search people and read a person",
                        "people:write": "act on an account (each action with a reason)",
                        "audit:read": "read and export the audit log",
                    },
                }},
            },
        },
    },
    "paths": {
        "/oauth/token": {"post": {
            "summary": "An access token for a client (grant_type=client_credentials)",
            "requestBody": {"required": True, "content": {
                "application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "required": ["grant_type"],
                    "properties": {"grant_type": {"const": "client_credentials"},
                                   "scope": {"type": "string"}}}}}},
            "responses": {"200": {"description": "The token", "content": _JSON},
                          "400": {"description": "A bad request or scope"},
                          "401": {"description": "Unknown client or wrong secret"},
                          "429": {"description": "Too many token requests (Retry-After)"}},
        }},
        "/admin/api/v1/openapi.json": {"get": {
            "summary": "This description",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": _JSON}},
        }},
        "/admin/api/v1/people": {"get": _scoped("people:read", {
            "summary": "Search people by part of an email, an account id or a product user id",
            "parameters": [{"name": "q", "in": "query", "required": True,
                            "schema": {"type": "string", "maxLength": 254}}],
            "responses": {"200": {"description": "At most 50 accounts", "content": _JSON}},
        })},
        "/admin/api/v1/people/{user_id}": {"get": _scoped("people:read", {
            "summary": "A person: status, second factors, sessions, devices, links, events",
            "parameters": [_USER_ID],
            "responses": {"200": {"description": "The person", "content": _JSON},
                          "404": {"description": "No such person"}},
        })},
        "/admin/api/v1/people/{user_id}/{action}": {"post": _scoped("people:write", {
            "summary": "Act on an account, with a reason (audited; the person is mailed)",
            "parameters": [_USER_ID, {"name": "action", "in": "path", "required": True,
                                      "schema": {"enum": ["disable", "enable", "reset-2fa",
                                                          "send-reset", "resend-verification",
                                                          "lift-lockout"]}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"],
                "properties": {"reason": {"type": "string", "minLength": 1,
                                          "maxLength": 500}}}}}},
            "responses": {"200": {"description": "Done", "content": _JSON},
                          "400": {"description": "No reason, or too long"},
                          "404": {"description": "No such person or action"},
                          "409": {"description": "Nothing to do (already disabled, ...)"},
                          "429": {"description": "Over ADMIN_ACTIONS_PER_MINUTE for this "
                                                 "client; nothing changed (Retry-After)"}},
        })},
        "/admin/api/v1/policy": {"get": _scoped("people:read", {
            "summary": "The sign-in policy (read-only: owners change it in the console, "
                       "with a fresh re-authentication)",
            "responses": {"200": {"description": "require_2fa, allow_totp, allow_passkey, "
                                                 "session_idle_seconds, session_max_seconds "
                                                 "(null: the deployment's setting)",
                                  "content": _JSON}},
        })},
        "/admin/api/v1/audit": {"get": _scoped("audit:read", {
            "summary": "One page of audit events, newest first",
            "parameters": [*_FILTERS, {"name": "before", "in": "query", "required": False,
                                       "schema": {"type": "integer"},
                                       "description": "next_before of the previous page"}],
            "responses": {"200": {"description": "events and next_before", "content": _JSON},
                          "400": {"description": "A bad filter"}},
        })},
        "/admin/api/v1/audit/export": {"get": _scoped("audit:read", {
            "summary": "Every matching event, streamed (the export is itself audited)",
            "parameters": [*_FILTERS, {"name": "format", "in": "query", "required": False,
                                       "schema": {"enum": ["jsonl", "csv"],
                                                  "default": "jsonl"}}],
            "responses": {"200": {"description": "JSON Lines or CSV", "content": {
                "application/x-ndjson": {}, "text/csv": {}}},
                "400": {"description": "A bad filter or format"}},
        })},
    },
}
