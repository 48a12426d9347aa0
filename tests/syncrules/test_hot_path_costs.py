"""What the hot paths cost the database: queries per idle poll and per tick of the poller, the
same for 10 calendars as for 200, and indexes under the queries that run every second."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from syncrules import polling, tasks
from syncrules.models import SyncRule, SyncState
from tests.syncrules.test_polling import polled_sources, serve
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db

# One calendar's idle sync (a notification's, or a person's): the sync lock taken, the calendar
# with its connection and owner, the server's slot taken, the claim (read, then started), the
# rules, the cursor and time written with the claim served (one transaction), the locks given
# back, and the look for requests that came in meanwhile.
IDLE_SYNC_QUERIES = 11
# The poller's batches: the same for the whole batch, whatever its size (each calendar's write
# goes with the others': one round trip per statement's text): a little over one query per idle
# poll in batches of ten (the target is three).
IDLE_BATCH_QUERIES = 11
BATCH = tasks.POLL_BATCH


def idle_world(radicale_server, owner, count: int):
    names = [f"Source {number}" for number in range(count)]
    world = make_world(radicale_server, owner, ["Work", *names])
    world.rule(names, ["Work"])
    world.put(names[0], "dentist", soon(1, 10))
    ids = [str(world.calendars[name].id) for name in names]
    for calendar_id in ids:
        tasks.enqueue_calendar_sync(calendar_id)
    tasks.sync_calendars.run(ids)  # the first, full reads
    for calendar_id in ids:
        tasks.enqueue_calendar_sync(calendar_id)  # the poller's requests
    return ids


def test_an_idle_sync_costs_a_fixed_handful_of_queries(radicale_server, owner, enqueued):
    [personal] = idle_world(radicale_server, owner, 1)

    with CaptureQueriesContext(connection) as queries:
        tasks.sync_calendar.run(personal)

    assert len(queries) <= IDLE_SYNC_QUERIES, "\n".join(q["sql"][:120] for q in queries)
    assert not any("syncrule_targets" in q["sql"] for q in queries)  # targets only on changes
    assert not SyncState.objects.get(calendar_id=personal).pending


@pytest.mark.parametrize("size", [3, BATCH])
def test_a_batch_of_idle_polls_costs_the_same_queries_whatever_its_size(
    radicale_server, owner, enqueued, size
):
    ids = idle_world(radicale_server, owner, size)

    with CaptureQueriesContext(connection) as queries:
        tasks.sync_calendars.run(ids)

    assert len(queries) <= IDLE_BATCH_QUERIES, "\n".join(q["sql"][:120] for q in queries)
    assert not any("syncrule_targets" in q["sql"] for q in queries)
    assert not any(state.pending for state in SyncState.objects.filter(calendar_id__in=ids))


def tick_queries(owner, count: int) -> int:
    ids = polled_sources(owner, count)
    for calendar_id in ids:
        serve(calendar_id)
    SyncState.objects.filter(calendar_id__in=ids).update(
        next_poll_at=timezone.now() - timedelta(seconds=1)
    )
    with CaptureQueriesContext(connection) as queries:
        handed_out = polling.hand_out()
    assert len(handed_out.polled) == count
    SyncRule.objects.filter(user=owner).update(enabled=False)  # out of the next count's way
    SyncState.objects.filter(calendar_id__in=ids).delete()
    return len(queries)


def test_a_tick_of_the_poller_costs_the_same_queries_for_10_calendars_as_for_200(owner):
    assert tick_queries(owner, 10) == tick_queries(owner, 200) <= 7


@pytest.mark.parametrize(
    "query",
    [
        # the poller's claim, every second
        "SELECT calendar_id FROM syncrules_syncstate WHERE next_poll_at <= now() "
        "ORDER BY next_poll_at LIMIT 2000 FOR UPDATE SKIP LOCKED",
        # its look for calendars it has not seen yet
        "SELECT calendar_id FROM syncrules_syncstate WHERE next_poll_at IS NULL LIMIT 5000",
        # the sweeper's, every 30 seconds
        "SELECT calendar_id FROM syncrules_syncstate WHERE pending_since <= now() "
        "ORDER BY pending_since LIMIT 500",
    ],
)
def test_the_every_second_queries_have_an_index_to_use(query):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan
