"""Small facts about the request that several apps need."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from.

    Without ``TRUSTED_PROXY_HEADER`` that is the peer the web server saw (``REMOTE_ADDR``), and any
    forwarding header the client sent is ignored: anyone can write one. Behind a proxy, the header
    it sets is read instead: ``X-Forwarded-For`` counted from the right, where each of the
    ``TRUSTED_PROXY_COUNT`` proxies appended the address it saw (what the client wrote is on the
    left), or a single-address header such as ``X-Real-IP``. A request that did not pass through
    the proxy (no such header, or no address in it) falls back to the peer address.
    """
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        forwarded = _forwarded_address(
            request.META.get(header, ""), hops=settings.TRUSTED_PROXY_COUNT
        )
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


def _forwarded_address(value: str, *, hops: int) -> str | None:
    addresses = [part.strip() for part in value.split(",") if part.strip()]
    if not addresses:
        return None
    # The proxy nearest to us appended the right-most entry; with fewer entries than proxies the
    # request skipped the outer ones, and the left-most is what the first proxy it met saw.
    candidate = addresses[-hops] if len(addresses) >= hops else addresses[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
