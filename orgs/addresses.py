"""The domain of an e-mail address, spelt as ``Domain.name`` stores domains: lower-case, without
a trailing dot, in its ASCII (IDNA 2008, UTS #46) form. Capture, policies and single sign-on all
match addresses to domains through this one function, so no spelling of an address (``ACME.test.``,
``bücher.test``) can match in one place and miss in another."""

from __future__ import annotations

import idna

from accounts.models import normalize_email


def address_domain(address: str) -> str:
    """The domain of ``address``, or "" when it has none or cannot be spelt in ASCII."""
    _local, at, host = normalize_email(address).rpartition("@")
    host = host.rstrip(".")
    if not at or not host:
        return ""
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return ""
