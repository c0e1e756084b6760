"""The SCIM User the gateway serves, as scim2-models models it, and the discovery documents.

The published schema says what the Console keeps of a provisioned person, nothing more:
``userName`` (the email address), ``emails`` (that same one address), ``active`` and
``externalId`` (the IdP's own id). ``emails`` and ``active`` are ``required`` (an account
always has one address and an on/off state, so neither can be removed); a request that
leaves them out takes the ``userName`` and ``true``. Attributes an IdP sends beyond these
(``name``, ``displayName``, the enterprise extension...) are read and dropped
(``ScimPolicy.Unknown.ignore``), as Okta and Entra send them whatever the schema says; the
policy also takes Entra's PATCH habits (a ``remove`` with a value, a filtered path with no
match yet).
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import current_app, url_for
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    Context,
    ETag,
    ExtensibleStringEnum,
    Filter,
    Meta,
    Patch,
    Required,
    Resource,
    ResourceType,
    Schema,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)

from gateway.models import OrganizationMember
from gateway.organizations.provisioning import is_active

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
#: Most members one list answer carries (``count`` above it is cut to it).
MAX_RESULTS = 200

POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


class MemberEmail(ComplexAttribute):
    """The account's one address, of type ``work``. ``primary`` is not kept (read and
    dropped): the one address is the primary one."""

    class Type(ExtensibleStringEnum):
        work = "work"

    value: Annotated[str | None, Required.true] = None
    type: Type | None = None


class MemberUser(Resource[Any]):
    """A provisioned member; ``id`` is the membership's public id."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    emails: Annotated[list[MemberEmail] | None, Required.true] = None
    active: Annotated[bool | None, Required.true] = None


def with_defaults(payload: dict[str, Any]) -> dict[str, Any]:
    """A POST/PUT body with the values a request may leave out filled in (see above)."""
    filled = dict(payload)
    if filled.get("emails") is None and isinstance(filled.get("userName"), str):
        filled["emails"] = [{"value": filled["userName"], "type": "work"}]
    if filled.get("active") is None:
        filled["active"] = True
    return filled


def location(member_id: str) -> str:
    return current_app.config["PUBLIC_URL"] + url_for("scim.user", member_id=member_id)


def of_member(member: OrganizationMember) -> MemberUser:
    user = member.user
    return MemberUser(
        id=member.public_id,
        external_id=member.scim_external_id,
        user_name=user.email,
        emails=[MemberEmail(value=user.email, type=MemberEmail.Type.work)],
        active=is_active(user),
        meta=Meta(resource_type="User", created=member.created_at,
                  last_modified=member.scim_updated_at or member.created_at,
                  location=location(member.public_id)),
    )


def chosen_email(resource: MemberUser) -> str | None:
    """The address a request body asks for: ``userName``, which must be among the
    ``emails`` when they are given (ValueError otherwise); without a ``userName`` (a PATCH of
    the emails alone), the one email given."""
    given = [e.value for e in resource.emails or [] if e.value is not None]
    name = resource.user_name
    if name is None:
        if len(given) != 1:
            raise ValueError("Give the account's one email address.")
        return given[0]
    if given and name.strip().lower() not in {value.strip().lower() for value in given}:
        raise ValueError("userName must be one of the emails.")
    return name


def _discovery_url(endpoint: str, **values: Any) -> str:
    return current_app.config["PUBLIC_URL"] + url_for(endpoint, **values)


def service_provider_config() -> dict[str, Any]:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken, name="Bearer token", primary=True,
            description="A token of the organization, made by an owner on its SCIM page.")],
        meta=Meta(resource_type="ServiceProviderConfig",
                  location=_discovery_url("scim.service_provider_config_view")),
    )
    return dump(config)


def user_schema() -> dict[str, Any]:
    schema: Schema = MemberUser.to_schema()
    schema.name = "User"
    schema.description = "A member of the organization (userName is the email address)"
    schema.meta = Meta(resource_type="Schema",
                       location=_discovery_url("scim.schema", schema_id=USER_SCHEMA))
    return dump(schema)


def user_resource_type() -> dict[str, Any]:
    kind = ResourceType.from_resource(MemberUser)
    kind.description = "A member of the organization"
    kind.meta = Meta(resource_type="ResourceType",
                     location=_discovery_url("scim.resource_type", name="User"))
    return dump(kind)


def dump(document: Any, context: Context = Context.RESOURCE_QUERY_RESPONSE,
         **options: Any) -> dict[str, Any]:
    data: dict[str, Any] = document.model_dump(scim_ctx=context, scim_policy=POLICY, **options)
    return data
