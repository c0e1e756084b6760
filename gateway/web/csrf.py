"""The one CSRF protector: every form of the gateway's own pages carries its token.

The proxy, which must not read the body it forwards, answers before Flask (``gateway.proxy.wsgi``)
and never meets it.
"""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
