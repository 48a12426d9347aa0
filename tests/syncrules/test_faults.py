"""Faults at the provider boundary and in our own processes: after recovery, blocks are exact,
with zero duplicates and zero orphans."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from django.db import connection as db_connection

from calendars.models import Calendar
from integrations.base import ProviderError
from syncrules.models import Block
from syncrules.tasks import enqueue_calendar_sync
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.syncrules.test_engine import assert_no_orphans_or_duplicates, block_times, own_times
from tests.syncrules.world import World, make_world, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(radicale_server, owner, fault_proxy) -> World:
    """Calendars reached through the fault proxy, so tests can make the server misbehave."""
    world = make_world(radicale_server, owner, ["Work", "Personal"], server_url=fault_proxy.url)
    world.rule(["Personal"], ["Work"])
    for number in range(6):
        world.put("Personal", f"event-{number}", soon(1 + number, 9 + number))
    return world


def cursor_of(world: World, name: str) -> str:
    return Calendar.objects.get(id=world.calendars[name].id).sync_cursor


def test_a_server_error_on_the_third_write_then_recovery(world, fault_proxy):
    fault_proxy.fault = lambda method, path, count: 500 if method == "PUT" and count == 3 else None
    cursor_before = cursor_of(world, "Personal")

    with pytest.raises(ProviderError) as raised:
        world.sync("Personal")

    assert not raised.value.permanent
    assert (
        cursor_of(world, "Personal") == cursor_before
    )  # nothing skipped: the same changes come again
    fault_proxy.reset()
    world.sync("Personal")

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert Block.objects.filter(state=Block.State.SYNCED).count() == 6
    assert_no_orphans_or_duplicates(world)


def test_a_write_that_times_out_and_lands_late_is_not_duplicated(world, fault_proxy):
    # The second write stalls past our 10 s timeout, then still reaches the server.
    fault_proxy.fault = lambda method, path, count: 11.0 if method == "PUT" and count == 2 else None

    with pytest.raises(ProviderError) as raised:
        world.sync("Personal")
    assert not raised.value.permanent
    fault_proxy.reset()
    world.sync("Personal")
    time.sleep(2)  # let the stalled write land

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert_no_orphans_or_duplicates(world)


def test_an_invalid_sync_token_falls_back_to_a_full_read(world):
    world.sync("Personal")
    calendar = Calendar.objects.get(id=world.calendars["Personal"].id)
    cursor = json.loads(calendar.sync_cursor)
    cursor.update(sync_token="http://radicale.org/ns/sync/not-a-token", ctag="stale")
    calendar.sync_cursor = json.dumps(cursor)
    calendar.save(update_fields=["sync_cursor"])
    world.put("Personal", "late-addition", soon(9, 9))

    world.sync("Personal")

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert len(world.blocks("Work")) == 7
    assert_no_orphans_or_duplicates(world)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_writing_leaves_nothing_twice(
    world, fault_proxy, tmp_path
):
    # The third write hangs, so the worker is surely mid-apply when it is killed.
    fault_proxy.fault = lambda method, path, count: 30.0 if method == "PUT" and count == 3 else None
    worker = start_celery_worker(tmp_path / "worker.log", db_connection.settings_dict["NAME"])
    try:
        enqueue_calendar_sync(world.calendars["Personal"].id)
        deadline = time.monotonic() + 30
        while fault_proxy.seen["PUT"] < 3:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            stop_celery_worker(worker)
    assert Block.objects.filter(state=Block.State.PENDING).exists()  # it died mid-apply

    fault_proxy.reset()
    world.sync("Personal")

    assert block_times(world, "Work") == own_times(world, "Personal")
    assert not Block.objects.filter(state=Block.State.PENDING).exists()
    assert_no_orphans_or_duplicates(world)
