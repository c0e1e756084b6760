"""A SAML connection's settings from the owner's form: the identity provider's metadata,
pasted, or fetched from its URL when the owner saves (then stored as fetched).

Decisions: the metadata is read when the owner saves, never refreshed behind their back (a
certificate rollover at the IdP means saving again; with a URL, saving fetches it anew). It is
fetched over https only (plain http only under the tests' switch, for an IdP on loopback),
without redirects, proxies or cookies, within ``idp_http.TIMEOUT`` and ``MAX_METADATA_BYTES``
(``gateway.organizations.sso.idp_http``). Metadata signatures are not checked: what the owner
pastes or fetches over TLS from the URL they typed is what they vouch for, as with an OIDC
issuer URL. A fetch failure or unusable metadata is a message on the page, nothing stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from flask import current_app

from config.gateway import test_switches
from gateway.organizations.errors import Refused
from gateway.organizations.sso import idp_http
from gateway.organizations.sso.saml import MAX_METADATA_BYTES, read_idp_metadata


def _fetchable(url: str) -> bool:
    parts = urlsplit(url)
    schemes = {"https", "http"} if test_switches(current_app).plain_http_identity_providers \
        else {"https"}
    return parts.scheme in schemes and bool(parts.hostname) and not parts.username


def fetch(url: str) -> str:
    """The metadata document at ``url``; raises ``Refused`` saying why not."""
    if len(url) > 2000 or not _fetchable(url):
        raise Refused("Enter the metadata URL as an https URL.")
    try:
        with idp_http.plain_session() as session, session.get(
                url, timeout=idp_http.TIMEOUT, allow_redirects=False, stream=True) as answer:
            if answer.status_code != 200:
                raise Refused(f"The metadata URL answered HTTP {answer.status_code}.")
            body = answer.raw.read(MAX_METADATA_BYTES + 1, decode_content=True)
    except requests.RequestException as failure:
        raise Refused(f"The metadata URL could not be read: {idp_http.no_answer(failure)}.") \
            from None
    if len(body) > MAX_METADATA_BYTES:
        raise Refused("The metadata at that URL is larger than 512 KiB.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("The metadata at that URL is not UTF-8 text.") from None


def checked_config(values: Mapping[str, str], previous: Mapping[str, object]
                   ) -> dict[str, object]:
    """The settings to store (``previous`` when editing). With a URL, the metadata is
    fetched from it at each save (how an owner takes in a new IdP certificate); without,
    the pasted metadata is used (or the stored one when the field is left empty)."""
    url = values.get("idp_metadata_url", "").strip()
    if url:
        document = fetch(url)
    else:
        document = values.get("idp_metadata", "").strip() or str(previous.get("idp_metadata", ""))
    idp = read_idp_metadata(document)  # its InvalidMetadata is a Refused
    config: dict[str, object] = {"idp_metadata": idp.metadata, "idp_entity_id": idp.entity_id}
    if url:
        config["idp_metadata_url"] = url
    return config
