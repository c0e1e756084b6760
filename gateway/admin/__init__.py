"""The operator console under /admin/: thin views over gateway.identity (people, roles,
interventions, audit_log) and gateway.products.linking, for support agents, admins, owners."""
