"""A real Celery worker process takes a task from the real Redis broker and runs it."""

import time

import pytest
from django.core.cache import cache

from multical import health
from multical.tasks import record_heartbeat

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_runs_the_heartbeat_task_through_redis(celery_worker_process, client):
    cache.delete(health.HEARTBEAT_CACHE_KEY)

    record_heartbeat.delay()

    deadline = time.monotonic() + 30
    while cache.get(health.HEARTBEAT_CACHE_KEY) is None:
        assert time.monotonic() < deadline, "the worker did not run the task within 30 s"
        time.sleep(0.1)
    assert client.get("/health/").json()["checks"]["worker"]["ok"] is True
