"""Liveness of the parts the product needs: the database, the broker, and the worker/beat pair."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from multical.celery import app as celery_app

HEARTBEAT_CACHE_KEY = "health:heartbeat"
# Beat sends a heartbeat every minute; three missed ones mean beat or every worker is down.
HEARTBEAT_STALE_AFTER_SECONDS = 180


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down"; the class name is enough to act on
        return Check("database", ok=False, detail=type(exc).__name__)
    return Check("database", ok=True, detail="reachable")


def check_broker() -> Check:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return Check("broker", ok=False, detail=type(exc).__name__)
    return Check("broker", ok=True, detail="reachable")


def record_heartbeat() -> None:
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now().timestamp(), timeout=None)


def check_worker() -> Check:
    """Informational: a stale worker does not make the web process unhealthy."""
    seen = cache.get(HEARTBEAT_CACHE_KEY)
    if seen is None:
        return Check("worker", ok=False, detail="no heartbeat yet")
    age = int(timezone.now().timestamp() - seen)
    return Check(
        "worker", ok=age <= HEARTBEAT_STALE_AFTER_SECONDS, detail=f"last heartbeat {age} s ago"
    )
