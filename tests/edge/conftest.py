"""The stack behind real nginx and real Caddy, each running the shipped configuration
(config/edge), one stack per edge for the whole module.

Segment's prefix leads to the echo product (it reports exactly what reached it and verifies the
assertion with the gateway's JWKS, fetched through the edge); SendGrid is the real product, for
the journey.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.assertion import RemoteJwks
from tests.support.echo import echo_app
from tests.support.edge import EdgeStack, running_edge_stack
from tests.support.served import start_wsgi, stop
from tests.support.stack import free_port


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def edge(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[EdgeStack]:
    kind = request.param
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    echo = start_wsgi(
        echo_app("segment", RemoteJwks(public + "/.well-known/jwks.json"), issuer=public))
    workdir = str(tmp_path_factory.mktemp(f"edge-{kind}"))
    try:
        with running_edge_stack(
            kind, workdir, port=port, upstreams={"segment": f"127.0.0.1:{echo.server_port}"}
        ) as stack:
            yield stack
    finally:
        stop(echo)
