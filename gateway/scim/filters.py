"""A SCIM ``filter`` (parsed by scim2-models) as a member search.

Offered: one equality on an attribute that identifies a person, the forms Okta, Entra and
scim2-tester send: ``userName eq "..."``, ``emails[value eq "..."]``,
``emails.value eq "..."``, ``externalId eq "..."`` and ``id eq "..."``, with attribute
names in any case, the core schema's URN prefix allowed. Anything else (another attribute,
another operator, ``and``/``or``/``not``) is an ``invalidFilter``: a narrow search that is
always right, rather than a partial one that may answer "nobody" wrongly.
"""

from __future__ import annotations

from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path.expressions import AttrPath, CompareOperator, Comparison, ValuePath

from gateway.organizations.provisioning import Criteria
from gateway.scim.resources import USER_SCHEMA, MemberUser

SUPPORTED = ('Only userName eq "...", emails[value eq "..."], emails.value eq "...", '
             'externalId eq "..." and id eq "..." are supported.')
MAX_LENGTH = 1000


def _name(path: AttrPath) -> str:
    if path.uri is not None and path.uri.lower() != USER_SCHEMA.lower():
        raise InvalidFilterException(detail=SUPPORTED)
    name = path.attr.lower()
    return f"{name}.{path.sub_attr.lower()}" if path.sub_attr else name


def _equality(node: object) -> tuple[str, str]:
    if (not isinstance(node, Comparison) or node.op is not CompareOperator.eq
            or not isinstance(node.value, str)):
        raise InvalidFilterException(detail=SUPPORTED)
    return _name(node.attr_path), node.value


def criteria(expression: object) -> Criteria:
    """The search a filter asks for (InvalidFilterException when it is not one offered)."""
    if not isinstance(expression, str) or len(expression) > MAX_LENGTH:
        raise InvalidFilterException(detail="The filter is too long.")
    tree = ScimFilter[MemberUser](expression).ast
    if isinstance(tree, ValuePath):
        if _name(tree.attr_path) != "emails" or tree.sub_attr is not None:
            raise InvalidFilterException(detail=SUPPORTED)
        name, value = _equality(tree.val_filter)
        if name != "value":
            raise InvalidFilterException(detail=SUPPORTED)
        return Criteria(email=value)
    name, value = _equality(tree)
    if name in ("username", "emails.value"):
        return Criteria(email=value)
    if name == "externalid":
        return Criteria(external_id=value)
    if name == "id":
        return Criteria(member_id=value)
    raise InvalidFilterException(detail=SUPPORTED)
