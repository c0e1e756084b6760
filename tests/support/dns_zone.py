"""A small authoritative DNS server on loopback (dnslib), answering TXT questions from a dict
the test fills: what the gateway's domain verification asks, over real UDP, through
dnspython. ``failing`` makes it answer SERVFAIL (a broken resolver)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from tests.support import served


@dataclass
class Zone:
    """TXT records by name (lower case, no trailing dot); the server's address."""

    txt: dict[str, list[str]] = field(default_factory=dict)
    failing: bool = False
    address: str = ""
    asked: list[str] = field(default_factory=list)


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.zone.asked.append(name)
        if self.zone.failing:
            reply.header.rcode = RCODE.SERVFAIL
        elif name not in self.zone.txt:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in self.zone.txt[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=60))
        return reply


@contextmanager
def dns_zone() -> Iterator[Zone]:
    zone = Zone()
    server = DNSServer(_ZoneResolver(zone), address="127.0.0.1", port=0,
                       logger=DNSLogger(logf=lambda _line: None))
    host, port = server.server.server_address
    zone.address = f"{host}:{port}"
    served.start(server.server)
    try:
        yield zone
    finally:
        served.stop(server.server)
