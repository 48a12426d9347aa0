"""Invariant 1, attacked: event content planted in sources never reaches our database, logs,
task arguments or caches, whatever path a sync takes (worker, direct, failing)."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from django.conf import settings
from django.db import connection as db_connection

from syncrules.models import Block
from syncrules.tasks import enqueue_calendar_sync
from tests.syncrules.world import make_world, soon

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MARKERS = ["PLANTED-TITLE-5d1e", "PLANTED-DESC-77ab", "PLANTED-PLACE-c3f0", "planted-guest-0e9b"]


def database_text_containing(marker: str) -> list[str]:
    found = []
    with db_connection.cursor() as cursor:
        for table in db_connection.introspection.table_names(cursor):
            columns = [
                column.name
                for column in db_connection.introspection.get_table_description(cursor, table)
            ]
            condition = " OR ".join(f'CAST("{column}" AS text) LIKE %s' for column in columns)
            # Table and column names come from the database's own catalogue, not from input.
            query = f'SELECT count(*) FROM "{table}" WHERE {condition}'  # noqa: S608
            cursor.execute(query, [f"%{marker}%"] * len(columns))
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def redis_text() -> bytes:
    client = redis.Redis.from_url(settings.REDIS_URL)
    chunks = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            chunks.append(client.get(key) or b"")
        elif kind == b"list":
            chunks += client.lrange(key, 0, -1)
        elif kind == b"hash":
            chunks += list(client.hgetall(key).values())
    return b"\n".join(chunks)


def test_planted_content_reaches_only_the_target_calendars(
    radicale_server, owner, fault_proxy, celery_worker_process, published, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    world = make_world(
        radicale_server, owner, ["Work", "Personal", "Clients"], server_url=fault_proxy.url
    )
    world.rule(["Personal"], ["Work"], visibility="full", show_location=True)
    world.rule(["Personal"], ["Clients"])
    world.plant("Personal", MARKERS, soon(2, 10))

    # Through the real worker and the Redis broker.
    enqueue_calendar_sync(world.calendars["Personal"].id)
    deadline = time.monotonic() + 30
    while Block.objects.filter(state=Block.State.SYNCED).count() < 2:
        assert time.monotonic() < deadline, "the worker did not sync"
        time.sleep(0.2)
    # Directly, with a failing write along the way, and a full re-read.
    world.put(
        "Personal", "planted", soon(3, 10), title=MARKERS[0] + " moved", description=MARKERS[1]
    )
    first_put = fault_proxy.seen["PUT"] + 1
    fault_proxy.fault = lambda method, path, count: (
        503 if method == "PUT" and count == first_put else None
    )
    with pytest.raises(Exception):  # noqa: B017 - any failure will do; the point is what it leaves behind
        world.sync("Personal")
    fault_proxy.reset()
    world.sync("Personal", full=True)

    full_block = world.blocks("Work")[0]
    assert MARKERS[0] in str(full_block["SUMMARY"])  # the content did travel to where it belongs
    for marker in MARKERS:
        assert database_text_containing(marker) == [], marker
        assert marker not in caplog.text, marker
        assert not any(marker in message for message in published), marker
        assert marker.encode() not in redis_text(), marker
    assert published, "no task was published: the worker path was not exercised"
    # The search itself can find things: a rule name is ours to store.
    world.rule(["Personal"], ["Work"], name="CONTROL-8c2e")
    assert database_text_containing("CONTROL-8c2e") == ["syncrules_syncrule"]
