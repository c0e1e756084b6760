"""The stack behind a real edge (nginx or Caddy) running the shipped configuration.

``running_edge_stack(kind, workdir)`` starts the gateway and both products (``running_stack``)
with the settings an edge on the same host needs, renders ``config/edge`` for their ports and
runs the edge in the foreground from ``workdir`` (never the system service). The test is
skipped when the edge binary is missing, unless ``REQUIRE_EDGE=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from config import edge as edge_config
from config import products_file
from tests.support.stack import Stack, free_port, running_stack, stop_process, wait_until_up


@dataclass
class EdgeStack:
    kind: str
    stack: Stack
    #: The public entry (what a browser talks to).
    url: str
    process: subprocess.Popen[bytes]
    log_path: str

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def edge_binary_or_skip(kind: str) -> None:
    try:
        edge_config.binary(kind)
    except edge_config.EdgeMissing as exc:
        if os.environ.get("REQUIRE_EDGE"):
            raise
        pytest.skip(str(exc))


@contextmanager
def running_edge(
    kind: str, workdir: str, port: int, stack: Stack, upstreams: dict[str, str] | None = None
) -> Iterator[EdgeStack]:
    """``upstreams``: product address (``host:port``) overrides, e.g. an echo product."""
    addresses = {name: f"127.0.0.1:{stack.ports[name]}" for name in stack.products}
    addresses |= upstreams or {}
    file = stack.env.get("PRODUCTS_FILE")
    run = edge_config.command(
        kind,
        os.path.join(workdir, kind),
        products_file.load(file) if file else None,
        listen=f"127.0.0.1:{port}",
        gateway=f"127.0.0.1:{stack.ports['gateway']}",
        answers=f"127.0.0.1:{stack.ports['answers']}",
        **addresses,
    )
    log_path = os.path.join(workdir, f"{kind}.log")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            run.argv, env=run.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    edge = EdgeStack(kind, stack, f"http://127.0.0.1:{port}", process, log_path)
    try:
        try:
            wait_until_up(edge.url + "/healthz", timeout=20)
        except RuntimeError:
            raise RuntimeError(f"{kind} did not come up:\n{edge.log()[-3000:]}") from None
        yield edge
    finally:
        stop_process(process)


@contextmanager
def running_edge_stack(
    kind: str, workdir: str, *, port: int | None = None,
    upstreams: dict[str, str] | None = None,
    products: tuple[str, ...] = ("segment", "sendgrid"), **env: str,
) -> Iterator[EdgeStack]:
    """The stack behind ``kind`` on ``port`` (a free one by default); ``upstreams`` puts other
    servers (``host:port``) behind a product prefix, for the gateway and the edge alike."""
    edge_binary_or_skip(kind)
    port = port or free_port()
    public = f"http://127.0.0.1:{port}"
    settings = {**edge_config.GATEWAY_ENV, "PUBLIC_URL": public, "GATEWAY_PUBLIC_URL": public}
    for name, address in (upstreams or {}).items():
        settings[f"{name.upper()}_UPSTREAM"] = f"http://{address}"
    with running_stack(workdir, products=products, answers=True,
                       **(settings | env)) as stack, running_edge(
        kind, workdir, port, stack, upstreams
    ) as edge:
        yield edge


@dataclass
class RawResponse:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    base: str, method: str, path: str, headers: list[tuple[str, str]] | None = None,
    body: bytes = b"", host: str | None = None,
) -> RawResponse:
    """Send exactly these bytes (duplicate and underscored names, raw paths, UTF-8 in the
    request line, any ``host``) and read one response: what ``requests`` would tidy up first."""
    parts = urlsplit(base)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = [tuple(line.split(":", 1)) for line in header_lines if ":" in line]
    pairs = [(k.strip(), v.strip()) for k, v in parsed]
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in pairs):
        rest = _dechunk(rest)
    return RawResponse(int(status_line.split()[1]), pairs, rest)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out
