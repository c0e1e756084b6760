"""Reading a name's DNS TXT records with dnspython, for domain verification.

``DNS_RESOLVER`` names the server to ask (``address[:port]``; the tests run an authoritative
server on loopback); empty asks the system's resolvers. Each lookup has a short overall
deadline (``LIFETIME``) and no search list, so a verification click never hangs a worker and
never matches a name the operator's search domains made up.
"""

from __future__ import annotations

import dns.exception
import dns.name
import dns.resolver
from flask import current_app

from config.gateway import resolver_address

LIFETIME = 5.0


class DnsUnavailable(Exception):
    """The resolver did not answer (timeout, refused, server failure)."""


def _resolver() -> dns.resolver.Resolver:
    setting = str(current_app.config["DNS_RESOLVER"])
    if not setting:
        return dns.resolver.Resolver()
    address, port = resolver_address(setting)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [address]
    resolver.port = port
    return resolver


def txt_values(name: str) -> list[str]:
    """Every TXT string at ``name`` (each record's strings joined, as RFC 7208 reads them);
    an empty list when the name or its TXT records do not exist."""
    try:
        answer = _resolver().resolve(dns.name.from_text(name), "TXT", lifetime=LIFETIME,
                                     search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as failure:
        raise DnsUnavailable(type(failure).__name__) from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
