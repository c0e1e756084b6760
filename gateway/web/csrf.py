"""The one CSRF protector: every form of the gateway's own pages carries its token.

Views that must not read the body they forward (the proxy) exempt their blueprint here.
"""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
