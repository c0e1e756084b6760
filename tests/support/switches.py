"""The test switches every fixture builds apps with: the only way to throw them, since no app
reads them from the environment (config.gateway.GatewayTestSwitches,
config.products.ProductTestSwitches)."""

from __future__ import annotations

from config.gateway import GatewayTestSwitches
from config.products import ProductTestSwitches

#: In-process gateway apps: cheap hashing, no background thread (the tests run the jobs),
#: identity providers on loopback http.
GATEWAY = GatewayTestSwitches(fast_password_hashing=True, background_work=False,
                             plain_http_identity_providers=True)
#: Gateway processes of the stack (tests/support/serve.py): background work as deployed.
GATEWAY_PROCESS = GatewayTestSwitches(fast_password_hashing=True,
                                     plain_http_identity_providers=True)
#: Product apps, in-process or processes: cheap hashing, the fault endpoint.
PRODUCT = ProductTestSwitches(fast_password_hashing=True, fault_endpoint=True)
