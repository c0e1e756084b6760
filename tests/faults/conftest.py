"""The stack as deployed (gateway under gunicorn), with a switchable port in front of Segment.

``faulty`` sits between the gateway and Segment: a test makes Segment refuse connections, hang
or answer 500 without touching Segment itself, and puts it back in a ``finally``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.faulty_port import READ_TIMEOUT, FaultyPort
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultyPort]:
    port = FaultyPort(0, mode="refuse")  # pointed at Segment once the stack knows its port
    try:
        yield port
    finally:
        port.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, faulty: FaultyPort) -> Iterator[Stack]:
    def put_faulty_port_in_front_of_segment(stack: Stack) -> None:
        faulty.target = ("127.0.0.1", stack.ports["segment"])
        faulty.set_mode("forward")
        stack.env["SEGMENT_UPSTREAM"] = faulty.url

    with running_stack(
        str(tmp_path_factory.mktemp("faults")),
        server="gunicorn",
        prepare=put_faulty_port_in_front_of_segment,
        UPSTREAM_CONNECT_TIMEOUT="1",
        UPSTREAM_READ_TIMEOUT=str(READ_TIMEOUT),
        IP_MAX_ATTEMPTS="1000",
    ) as running:
        yield running


@pytest.fixture
def segment_port(faulty: FaultyPort) -> Iterator[FaultyPort]:
    """The faulty port, back to forwarding after the test whatever happened."""
    try:
        yield faulty
    finally:
        faulty.set_mode("forward")
