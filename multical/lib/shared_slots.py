"""A counting semaphore in the shared cache: at most N holders across every process and machine.

Each slot is a cache key taken with an atomic add and a time to live, so a holder that dies frees
its slot by itself; waiting is polling, which is fine for limits measured in requests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache


class NoSlotFree(Exception):
    """Every slot stayed taken for the whole wait."""


@contextmanager
def shared_slot(
    name: str, *, limit: int, hold_seconds: int = 60, wait_seconds: float = 30.0
) -> Iterator[None]:
    """Hold one of ``limit`` slots called ``name`` for the block (``hold_seconds`` at most)."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_seconds
    while True:
        for number in range(limit):
            key = f"slot:{name}:{number}"
            if cache.add(key, token, timeout=hold_seconds):
                try:
                    yield
                finally:
                    if cache.get(key) == token:
                        cache.delete(key)
                return
        if time.monotonic() > deadline:
            raise NoSlotFree(name)
        time.sleep(0.02)
