"""Signatures as the Standard Webhooks specification (standardwebhooks.com) has them.

A secret is 32 random bytes, shown as ``whsec_`` and their base64. A delivery's signature is
``v1,`` and the base64 of HMAC-SHA256, keyed with those bytes, over
``{webhook-id}.{webhook-timestamp}.{body}``; ``webhook-signature`` lists one per valid secret,
separated by spaces (two while a rotated secret's overlap lasts). Importable without Django.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, ``whsec_<base64 of 32 random bytes>``."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{message_id}.{timestamp}.{body}`` under ``secret``."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(
    *, secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The request headers of one attempt, signed with each of ``secrets_`` (current first)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Multical webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in secrets_
        ),
    }
