"""Django's Redis cache, with one client per connection pool instead of one per operation.

``django.core.cache.backends.redis.RedisCacheClient`` builds a new ``redis.Redis`` for every
``get``, ``add`` or ``incr``; each build copies redis-py's table of response callbacks (a couple of
hundred entries). A public booking page makes about seven cache operations (rate limits, versions,
the rendered month), and building their clients cost more of our CPU than the round trips did.

A ``redis.Redis`` is safe to share between threads: it takes a connection from its pool for each
command and gives it back. The pools are Django's own (one per server, made on first use), and
redis-py's pools already reopen their connections in a forked child.
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _SharedClientCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        # Django's own pool for this server (not in django-stubs: a private method).
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            # Two threads may both build one at first: either does, and the last one is kept.
            client = self._clients[id(pool)] = redis.Redis(connection_pool=pool)
        return client


class SharedClientRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with one client per pool (see above)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClientCacheClient
