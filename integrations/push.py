"""Secrets carried by push notifications (Google channel tokens, Graph clientState).

Each is derived from its channel id with the server secret, so nothing secret is stored, and a
notification is verified by deriving it again and comparing in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def channel_secret(channel_id: str) -> str:
    key = hashlib.sha256(b"multical-push-channel:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, channel_id.encode(), hashlib.sha256).hexdigest()


def channel_secret_matches(channel_id: str, presented: str) -> bool:
    return hmac.compare_digest(channel_secret(channel_id), presented or "")
