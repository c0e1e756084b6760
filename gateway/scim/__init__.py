"""SCIM in: the organizations' IdPs provision their members at ``/scim/v2/`` (RFC 7643/7644),
each with one of its organization's bearer tokens. ``resources`` is the SCIM User as
scim2-models reads and writes it, ``filters`` turns a SCIM filter into a search, ``views``
is the HTTP glue, ``api`` their blueprint (it imports them, and scim2-models with them, on
the first SCIM request); the rules are ``gateway.organizations.provisioning``."""
