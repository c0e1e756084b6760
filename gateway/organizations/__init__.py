"""Organizations: Console accounts grouped under owners and admins (members, invitations,
roles, the organization's audit view). The rules live here; the Console's pages
(``gateway.console.organizations``) parse, call one service and render."""
