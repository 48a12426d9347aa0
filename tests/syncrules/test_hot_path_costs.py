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

# An idle poll: the sync lock and the server's slot (taken and given back), the calendar with its
# connection and owner, the claim (read, then started), the rules, the cursor and time written,
# the claim served, and the look for requests that came in meanwhile.
IDLE_POLL_QUERIES = 12


def test_an_idle_poll_costs_a_fixed_handful_of_queries(radicale_server, owner, enqueued):
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    personal = str(world.calendars["Personal"].id)
    tasks.enqueue_calendar_sync(personal)
    tasks.sync_calendar.run(personal)  # the first, full read
    tasks.enqueue_calendar_sync(personal)  # the poller's request

    with CaptureQueriesContext(connection) as queries:
        tasks.sync_calendar.run(personal)

    assert len(queries) <= IDLE_POLL_QUERIES, "\n".join(q["sql"][:120] for q in queries)
    assert not any("syncrule_targets" in q["sql"] for q in queries)  # targets only on changes
    assert not SyncState.objects.get(calendar_id=personal).pending


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
