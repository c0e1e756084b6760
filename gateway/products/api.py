"""The gateway's HTTP client for a product's internal endpoints: linking checks and SCIM Users.

Every call names the product's SCIM bearer token, has connect/read timeouts, ignores
environment proxies (``trust_env=False``: the pooled session of ``gateway.products.table``) and
follows no redirects. Failures are exceptions a caller can act on without reading HTTP:

- :class:`ProductUnavailable`: unreachable, too slow, a 5xx or an answer we cannot read.
  Nothing is known to have changed; the person may retry.
- :class:`ProductRefused` (and its kinds below): the product answered and said no.

Used by linking (``gateway.console.linking``) and by the email-change saga, which needs the SCIM
``find_user_by_email`` / ``patch_user_email`` pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from flask import current_app
from urllib3.exceptions import NewConnectionError

from gateway.products.table import Product, products

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ProductError(Exception):
    """Base class: a call to a product did not give the answer the caller wanted."""

    def __init__(self, product: str, message: str) -> None:
        super().__init__(f"{product}: {message}")
        self.product = product


class ProductUnavailable(ProductError):
    """The product could not be reached or failed; nothing is known to have changed."""


class ProductUnreachable(ProductUnavailable):
    """No connection was made, so the request certainly did not reach the product."""


class ProductRefused(ProductError):
    """The product answered with a 4xx refusal (``status`` and its error ``code``)."""

    def __init__(self, product: str, status: int, code: str) -> None:
        super().__init__(product, f"refused with {status} {code}")
        self.status = status
        self.code = code


class InvalidCredentials(ProductRefused):
    """Wrong product email or password (or a user whose password is already disabled)."""


class AlreadyLinked(ProductRefused):
    """The product user is linked to another Console user, or the Console user to another."""


class EmailInUse(ProductRefused):
    """SCIM 409 ``uniqueness``: another product user already has this email."""


class PreconditionFailed(ProductRefused):
    """SCIM 412: the user changed since the ETag the caller sent."""


@dataclass(frozen=True)
class ProductUser:
    id: str
    email: str
    external_id: str | None = None
    active: bool = True
    etag: str | None = None


class ProductClient:
    """Calls one product's ``/internal/`` and ``/scim/v2/`` endpoints."""

    def __init__(
        self,
        product: Product,
        timeout: tuple[float, float],
        session: requests.Session | None = None,
    ) -> None:
        if product.linked is None:
            raise ValueError(f"{product.name} has no accounts to link or provision")
        self.product = product
        self.name = product.name
        self._scim = product.api_url(product.linked.scim_url)
        self._link = product.api_url(product.linked.link_url)
        self.timeout = timeout
        self.session = session or product.session

    # --- linking (internal, not SCIM) -------------------------------------------------------

    def verify_credentials(self, email: str, password: str) -> ProductUser:
        """The product user owning ``email`` + ``password``; :class:`InvalidCredentials` else."""
        answer = self._call(
            "POST", self._link + "/verify", {"email": email, "password": password}
        )
        if answer.status_code == 401 and _error_code(answer, "") == "invalid_credentials":
            raise InvalidCredentials(self.name, 401, "invalid_credentials")
        return self._internal_user(self._expect(answer, 200))

    def link_user(
        self, product_user_id: str, console_user_id: str, linked_by_email: str
    ) -> ProductUser:
        """Mark the product user linked (password off, sessions ended); idempotent per pair."""
        body = {
            "product_user_id": product_user_id,
            "console_user_id": console_user_id,
            "linked_by_email": linked_by_email,
        }
        answer = self._call("POST", self._link, body)
        if answer.status_code == 409:
            raise AlreadyLinked(self.name, 409, _error_code(answer, "already_linked"))
        return self._internal_user(self._expect(answer, 200))

    # --- SCIM Users ---------------------------------------------------------------------------

    def find_user_by_email(self, email: str) -> ProductUser | None:
        """The product user whose ``userName`` is ``email`` (case-insensitive), or None."""
        quoted = email.replace("\\", "\\\\").replace('"', '\\"')
        answer = self._call(
            "GET", self._scim + "/Users", scim=True,
            params={"filter": f'userName eq "{quoted}"', "count": "2"},
        )
        data = self._expect(answer, 200)
        resources = data.get("Resources") or []
        if not isinstance(resources, list):
            raise ProductUnavailable(self.name, "unreadable SCIM list")
        return self._scim_user(resources[0]) if resources else None

    def create_user(self, email: str, console_user_id: str) -> ProductUser:
        """A new product user (owner of a new free workspace/account) linked to the Console."""
        body = {
            "schemas": [SCIM_USER],
            "userName": email,
            "emails": [{"value": email, "type": "work", "primary": True}],
            "externalId": console_user_id,
            "active": True,
        }
        answer = self._call("POST", self._scim + "/Users", body, scim=True)
        self._raise_conflict(answer)
        return self._scim_user(self._expect(answer, 201), answer.headers.get("ETag"))

    def patch_user_email(
        self, product_user_id: str, email: str, if_match: str | None = None
    ) -> ProductUser:
        """Replace ``userName`` and the primary email (SCIM PATCH); :class:`EmailInUse` on 409."""
        body = {
            "schemas": [SCIM_PATCH],
            "Operations": [
                {"op": "replace", "path": "userName", "value": email},
                {
                    "op": "replace",
                    "path": "emails",
                    "value": [{"value": email, "type": "work", "primary": True}],
                },
            ],
        }
        headers = {"If-Match": if_match} if if_match else None
        answer = self._call(
            "PATCH", f"{self._scim}/Users/{_segment(product_user_id)}", body,
            headers=headers, scim=True,
        )
        self._raise_conflict(answer)
        if answer.status_code == 412:
            raise PreconditionFailed(self.name, 412, "precondition_failed")
        return self._scim_user(self._expect(answer, 200), answer.headers.get("ETag"))

    # --- plumbing -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        scim: bool = False,
    ) -> requests.Response:
        sent = {
            "Authorization": f"Bearer {self.product.scim_token}",
            "Accept": "application/scim+json, application/json",
        }
        if body is not None:
            sent["Content-Type"] = (
                "application/scim+json" if scim else "application/json"
            )
        sent.update(headers or {})
        try:
            return self.session.request(
                method,
                url,
                data=json.dumps(body) if body is not None else None,
                params=params,
                headers=sent,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ConnectTimeout as exc:
            raise ProductUnreachable(self.name, "connect timed out") from exc
        except requests.Timeout as exc:
            raise ProductUnavailable(self.name, "timed out") from exc
        except requests.ConnectionError as exc:
            if isinstance(getattr(exc.args[0] if exc.args else None, "reason", None),
                          NewConnectionError):
                raise ProductUnreachable(self.name, "connection refused") from exc
            raise ProductUnavailable(self.name, f"unreachable ({exc.__class__.__name__})") from exc
        except requests.RequestException as exc:
            raise ProductUnavailable(self.name, f"unreachable ({exc.__class__.__name__})") from exc

    def _expect(self, answer: requests.Response, status: int) -> dict[str, Any]:
        if answer.status_code >= 500 or answer.status_code in (401, 403):
            # A 401/403 here means our token is wrong: an operator problem, not the person's.
            raise ProductUnavailable(self.name, f"answered {answer.status_code}")
        if answer.status_code != status:
            raise ProductRefused(self.name, answer.status_code, _error_code(answer, "refused"))
        try:
            data = answer.json()
        except ValueError as exc:
            raise ProductUnavailable(self.name, "answer is not JSON") from exc
        if not isinstance(data, dict):
            raise ProductUnavailable(self.name, "answer is not a JSON object")
        return data

    def _raise_conflict(self, answer: requests.Response) -> None:
        if answer.status_code == 409:
            raise EmailInUse(self.name, 409, _error_code(answer, "uniqueness"))

    def _internal_user(self, data: dict[str, Any]) -> ProductUser:
        try:
            return ProductUser(
                id=str(data["id"]),
                email=str(data["email"]),
                external_id=None if data.get("external_id") is None else str(data["external_id"]),
            )
        except KeyError as exc:
            raise ProductUnavailable(self.name, "answer lacks a user") from exc

    def _scim_user(self, data: Any, etag: str | None = None) -> ProductUser:
        if not isinstance(data, dict) or "id" not in data or "userName" not in data:
            raise ProductUnavailable(self.name, "answer lacks a SCIM user")
        external = data.get("externalId")
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        return ProductUser(
            id=str(data["id"]),
            email=str(data["userName"]),
            external_id=None if external is None else str(external),
            active=bool(data.get("active", True)),
            etag=etag or (meta or {}).get("version"),
        )


def _error_code(answer: requests.Response, default: str) -> str:
    try:
        data = answer.json()
    except ValueError:
        return default
    if isinstance(data, dict):
        code = data.get("error") or data.get("scimType")
        if isinstance(code, str) and code:
            return code[:64]
    return default


def _segment(value: str) -> str:
    return quote(value, safe="")


def client_for(name: str) -> ProductClient:
    """The client of product ``name`` in the current app (``KeyError`` if there is none)."""
    product = products().get(name)
    if product is None:
        raise KeyError(name)
    config = current_app.config
    timeout = (
        float(config["UPSTREAM_CONNECT_TIMEOUT"]),
        float(config["PRODUCT_API_TIMEOUT"]),
    )
    return ProductClient(product, timeout=timeout)
