"""The /settings pages: account (sessions, password, activity), email, two-factor."""
