"""The Redis cache shares one client per pool (multical/lib/redis_cache.py) between operations
and threads, and counts exactly under concurrent increments, as the rate limits need."""

from __future__ import annotations

import threading
import uuid

from django.core.cache import cache


def test_operations_reuse_one_client():
    first = cache._cache.get_client(write=True)

    cache.set("shared-client-probe", 1, timeout=5)

    assert cache._cache.get_client(write=True) is first
    assert cache._cache.get_client() is first  # one server: reads use the same pool


def test_threads_sharing_the_client_count_every_increment():
    key = f"shared-client-{uuid.uuid4().hex}"
    cache.set(key, 0, timeout=60)
    start = threading.Barrier(8)

    def count() -> None:
        start.wait(timeout=10)
        for _ in range(100):
            cache.incr(key)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert cache.get(key) == 800
