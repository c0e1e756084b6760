"""Bodies stream both ways at flat memory; upstream failures map to 502/504 pages."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.keys import shared_store, write_jwks
from tests.support.proxy_gateway import (
    MB,
    SignedIn,
    echoed,
    free_port,
    gateway_settings,
    sign_in,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BIG = 100 * MB
#: Peak Python allocations of the gateway allowed while 100 MB go through it.
MEMORY_BOUND = 4 * MB


class Zeros:
    """A request body of ``size`` zero bytes produced on demand, never held in memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.size + offset if whence == 2 else offset
        return self.position

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.position
        size = left if size is None or size < 0 else min(size, left)
        size = min(size, 256 * 1024)
        self.position += size
        return bytes(size)

    def close(self) -> None:
        pass


def zeros_sha256(size: int) -> str:
    digest = hashlib.sha256()
    block = bytes(MB)
    for _ in range(size // MB):
        digest.update(block)
    digest.update(bytes(size % MB))
    return digest.hexdigest()


@pytest.fixture(scope="module")
def process_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The echo product in its own process: tracemalloc then sees only the gateway."""
    port = free_port()
    jwks = write_jwks(shared_store(), str(tmp_path_factory.mktemp("jwks") / "jwks.json"))
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.echo", str(port), "segment", jwks],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or child.poll() is not None:
                child.kill()
                child.wait()
                raise RuntimeError("echo upstream did not start") from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    child.terminate()
    child.wait(timeout=10)


@pytest.fixture
def streaming_person(
    database_url: str, upstreams: Any, tmp_path: Any, process_upstream: str
) -> Iterator[SignedIn]:
    app = make_gateway_app(
        database_url,
        **gateway_settings(upstreams, tmp_path, SEGMENT_UPSTREAM=process_upstream,
                           UPSTREAM_READ_TIMEOUT=30),
    )
    yield sign_in(app, app.test_client())
    dispose(app)


def _warm_up(person: SignedIn) -> None:
    """One small request first: first-use imports and query compilation are not streaming."""
    echoed(person.client.post("/segment/upload", data=b"warm"))
    response = person.client.get("/segment/download/100000", buffered=False)
    assert sum(len(chunk) for chunk in response.iter_encoded()) == 100000
    response.close()


def test_large_download_streams_at_flat_memory(streaming_person: SignedIn) -> None:
    signed_in = streaming_person
    _warm_up(signed_in)
    tracemalloc.start()
    try:
        response = signed_in.client.get(f"/segment/download/{BIG}", buffered=False)
        assert response.status_code == 200
        received = 0
        for chunk in response.iter_encoded():
            received += len(chunk)
        response.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == BIG
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"


def test_large_upload_streams_at_flat_memory(streaming_person: SignedIn) -> None:
    signed_in = streaming_person
    _warm_up(signed_in)
    tracemalloc.start()
    try:
        response = signed_in.client.post(
            "/segment/upload",
            input_stream=Zeros(BIG),
            content_length=BIG,
            content_type="application/octet-stream",
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    echo = echoed(response)
    assert echo["body_size"] == BIG
    assert echo["body_sha256"] == zeros_sha256(BIG)
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"


def test_chunked_upload_is_forwarded(signed_in: SignedIn) -> None:
    size = 3 * MB + 17
    response = signed_in.client.post(
        "/segment/upload",
        input_stream=Zeros(size),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    echo = echoed(response)
    assert echo["body_size"] == size
    assert echo["body_sha256"] == zeros_sha256(size)


def test_slow_upstream_gives_504(signed_in: SignedIn) -> None:
    response = signed_in.client.get("/segment/slow?s=2.5", headers={"Accept": "text/html"})
    assert response.status_code == 504
    page = response.get_data(as_text=True)
    assert "took too long" in page and "Traceback" not in page
    assert response.headers["X-Request-ID"]


@pytest.fixture
def dead_upstream_gateway(database_url: str, upstreams: Any, tmp_path: Any) -> Any:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = gateway_settings(upstreams, tmp_path, SENDGRID_UPSTREAM=dead)
    app = make_gateway_app(database_url, **settings)
    yield app
    dispose(app)


def test_upstream_down_gives_502_page_or_json(dead_upstream_gateway: Flask) -> None:
    person = sign_in(dead_upstream_gateway, dead_upstream_gateway.test_client())
    page = person.client.get("/sendgrid/", headers={"Accept": "text/html"})
    assert page.status_code == 502
    assert "did not answer" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)
    api = person.client.get("/sendgrid/api", headers={"Accept": "application/json"})
    assert api.status_code == 502
    assert api.get_json()["status"] == 502
    # The other product is unaffected.
    assert echoed(person.client.get("/segment/"))["product"] == "segment"
    metrics = person.client.get("/metrics").get_data(as_text=True)
    assert 'gateway_upstream_errors_total{product="sendgrid",status="502"}' in metrics


def test_readyz_reports_upstreams(dead_upstream_gateway: Flask) -> None:
    answer = dead_upstream_gateway.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["sendgrid"] == "unavailable"
    assert answer.get_json()["checks"]["segment"] == "ok"


@pytest.mark.cwe(400)
def test_streamed_uploads_take_at_most_half_the_body_slots() -> None:
    """Large uploads hold their slot until answered: they may take half the slots, never the
    ones small Console forms need."""
    import io

    from gateway.web.bodies import BodyError, Receiver

    receiver = Receiver(timeout=1, buffer=1024, concurrency=4, per_client=4, min_rate=1024)

    def post(size: int, client: str) -> dict[str, object]:
        return {"CONTENT_LENGTH": str(size), "wsgi.input": io.BytesIO(bytes(size)),
                "REMOTE_ADDR": client}

    uploads = [receiver.receive(post(4096, f"10.0.0.{i}")) for i in range(2)]
    with pytest.raises(BodyError) as refused:
        receiver.receive(post(4096, "10.0.0.9"))
    assert refused.value.status == 503
    assert receiver.receive(post(100, "10.0.0.9")).payload == bytes(100)
    for upload in uploads:
        upload.close()
    receiver.receive(post(4096, "10.0.0.9")).close()
