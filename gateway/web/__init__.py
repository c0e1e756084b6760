"""What every page shares: request ids and access log, security headers, error
pages, client address, return paths, the 429 page, CSRF.
"""
