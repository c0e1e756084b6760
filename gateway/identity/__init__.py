"""Console accounts and their proofs: passwords, TOTP, tokens, throttle, sessions,
re-authentication, audit, mail, address canonicalisation. No views.
"""
