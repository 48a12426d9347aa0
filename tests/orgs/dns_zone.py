"""A DNS zone the tests write: the resolver that domain verification reads, backed by a dict.

The one fake of the domain checks, at the DNS boundary (``orgs.dns``): everything above it runs
as in production. ``install`` (called by each test module's ``zone`` fixture) makes a fresh zone the one
``ORG_DNS_RESOLVER`` reads.
"""

from __future__ import annotations

from orgs.dns import DnsUnavailable, TxtRecord


class Zone:
    """TXT records by name; a name in ``failing`` answers as unreachable servers do."""

    def __init__(self) -> None:
        self.records: dict[str, list[TxtRecord]] = {}
        self.failing: set[str] = set()
        self.asked: list[str] = []

    def publish(self, name: str, *strings: str) -> None:
        """One TXT record at ``name``, made of ``strings`` (several for a split record)."""
        self.records.setdefault(name, []).append(tuple(s.encode() for s in strings))


_zone = Zone()


def resolver(name: str) -> list[TxtRecord]:
    _zone.asked.append(name)
    if name in _zone.failing:
        raise DnsUnavailable("SERVFAIL")
    return list(_zone.records.get(name, []))


def install(settings) -> Zone:
    """A new, empty zone, read from now on (``settings``: pytest-django's fixture)."""
    global _zone
    _zone = Zone()
    settings.ORG_DNS_RESOLVER = "tests.orgs.dns_zone.resolver"
    return _zone
