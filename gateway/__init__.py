"""The unified-login gateway: Console identity, settings, and the reverse proxy to products.

``create_app`` (the Console, the built-in proxy; WSGI) and ``create_answer_app`` (forward-auth
answers; ASGI) are looked up lazily (PEP 562) so that ``import gateway.assertion``, the module
a product team vendors, does not load Flask or the gateway's configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import create_answer_app, create_app

__all__ = ["create_answer_app", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gateway import app

        return getattr(app, name)
    raise AttributeError(name)
