"""The DNS boundary of domain verification: a domain's TXT records, read by one resolver.

A resolver is a callable ``(name) -> list[TxtRecord]``, named by the setting
``ORG_DNS_RESOLVER`` (a dotted path; ``system_resolver`` unless set). It returns the TXT records
at exactly ``name``, each as the character-strings DNS keeps it in (one record may be split into
several strings of at most 255 bytes); no record, or no such name, is an empty list. It raises
``DnsUnavailable`` when it could not find out (a timeout, failing servers): "not there" and
"could not ask" are different answers for the person checking. Tests name a resolver of their
own, backed by a dict.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

# The character-strings of one TXT record, in order, as bytes.
TxtRecord = tuple[bytes, ...]
Resolver = Callable[[str], list[TxtRecord]]

DEFAULT_RESOLVER = "orgs.dns.system_resolver"
# A person waits on the check: a slow DNS answer is a failed one, tried again later.
LOOKUP_SECONDS = 5.0


class DnsUnavailable(Exception):
    """The records could not be read just now; whether they are there is unknown."""


def txt_records(name: str) -> list[TxtRecord]:
    """The TXT records at ``name`` (an ASCII domain name), read by the configured resolver."""
    resolver: Resolver = import_string(getattr(settings, "ORG_DNS_RESOLVER", DEFAULT_RESOLVER))
    return resolver(name)


def system_resolver(name: str) -> list[TxtRecord]:
    """The records as the system's name servers (``/etc/resolv.conf``) give them, read with
    dnspython. Imported by name: the package is needed only where this resolver is used."""
    try:
        resolver = importlib.import_module("dns.resolver")
        exception = importlib.import_module("dns.exception")
    except ImportError as error:
        raise DnsUnavailable("dnspython is not installed") from error
    try:
        answer = resolver.resolve(name, "TXT", lifetime=LOOKUP_SECONDS, search=False)
    except (resolver.NXDOMAIN, resolver.NoAnswer):
        return []
    except exception.DNSException as error:
        raise DnsUnavailable(type(error).__name__) from error
    return [tuple(rdata.strings) for rdata in answer]
