"""A worker's turn at a batch of calendars (``syncrules.runner``), through the poller's batch task:
each calendar is served as its own sync would serve it, and what one calendar meets (a lock held
elsewhere, a server that says "slow down", a fault of ours, a request mid-turn) touches only what
it should."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache

from multical.lib import locks
from syncrules import engine, pacing, runner, state, tasks
from syncrules.models import SyncState
from tests.syncrules.test_tasks import other_session_holding
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db

NAMES = ["Source 0", "Source 1", "Source 2"]


def batch_world(radicale_server, owner, server_url=None):
    world = make_world(radicale_server, owner, ["Work", *NAMES], server_url=server_url)
    world.rule(NAMES, ["Work"])
    for number, name in enumerate(NAMES):
        world.put(name, f"event-{number}", soon(1 + number, 10))
    ids = [str(world.calendars[name].id) for name in NAMES]
    for calendar_id in ids:
        tasks.enqueue_calendar_sync(calendar_id)
    return world, ids


def pending(calendar_ids) -> set[str]:
    return {
        str(sync_state.calendar_id)
        for sync_state in SyncState.objects.filter(calendar_id__in=calendar_ids)
        if sync_state.pending
    }


def test_a_batch_serves_each_calendar_and_leaves_one_synced_elsewhere_to_its_holder(
    radicale_server, owner, enqueued
):
    world, ids = batch_world(radicale_server, owner)
    other = other_session_holding(state.sync_lock_name(ids[1]))
    try:
        tasks.sync_calendars.run(ids)
    finally:
        other.close()

    assert pending(ids) == {ids[1]}
    assert enqueued.syncs == []  # the holder looks at its requests again at its end
    assert len(world.blocks("Work")) == 2
    assert locks.held(state.sync_lock_name(calendar_id) for calendar_id in ids) == set()


def test_a_server_that_says_slow_down_pauses_the_rest_of_the_batch_there_unread(
    radicale_server, owner, enqueued, fault_proxy
):
    world, ids = batch_world(radicale_server, owner, server_url=fault_proxy.url)
    server = pacing.server_of(world.connection)
    asked: list[str] = []
    fault_proxy.fault = lambda method, path, count: asked.append(path) or 503
    try:
        tasks.sync_calendars.run(ids, queue=settings.CELERY_POLL_QUEUE)

        first = urlsplit(world.calendars[NAMES[0]].remote_id).path
        assert asked and all(path.startswith(first) for path in asked)  # the rest left unread
        assert pending(ids) == set(ids)
        assert SyncState.objects.get(calendar_id=ids[0]).failures == 1
        assert SyncState.objects.get(calendar_id=ids[1]).failures == 0  # not tried: paced
        assert sorted(enqueued.syncs) == sorted(ids)
        assert set(enqueued.queues) == {settings.CELERY_POLL_QUEUE}
        assert min(enqueued.countdowns) >= 15  # the server's pause, for every one of them
    finally:
        cache.delete(f"poll-pause:{server}")


def test_a_fault_of_ours_is_raised_after_the_rest_of_the_batch_is_served(
    radicale_server, owner, enqueued, monkeypatch
):
    world, ids = batch_world(radicale_server, owner)
    sync = engine.sync_source

    def faulty(calendar, **options):
        if str(calendar.id) == ids[0]:
            raise RuntimeError("a bug of ours")
        return sync(calendar, **options)

    monkeypatch.setattr(engine, "sync_source", faulty)
    with pytest.raises(RuntimeError, match="a bug of ours"):
        tasks.sync_calendars.run(ids)

    assert pending(ids) == {ids[0]}
    faulted = SyncState.objects.get(calendar_id=ids[0])
    assert faulted.failures == 1 and faulted.retry_at is not None  # the sweeper's, after backoff
    assert enqueued.syncs == []
    assert len(world.blocks("Work")) == 2


def test_a_calendar_done_early_is_given_back_and_a_request_then_is_served_at_once(
    radicale_server, owner, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    world, ids = batch_world(radicale_server, owner)
    monkeypatch.setattr(runner, "RELEASE_EVERY", 0.0)
    sync = engine.sync_source
    held_meanwhile = []

    def watching(calendar, **options):
        if str(calendar.id) == ids[2]:
            held_meanwhile.append(locks.held([state.sync_lock_name(ids[0])]))
            # A person asks for the first calendar again while the batch is still at work.
            with django_capture_on_commit_callbacks(execute=True):
                tasks.enqueue_calendar_sync(ids[0])
        return sync(calendar, **options)

    monkeypatch.setattr(engine, "sync_source", watching)
    tasks.sync_calendars.run(ids)

    assert held_meanwhile == [set()]  # given back as soon as it was done
    # The person's sync ran at once (the lock was free), so nothing waits for another.
    assert enqueued.syncs == [ids[0]]
    assert enqueued.queues == [settings.CELERY_TASK_DEFAULT_QUEUE]
    assert pending(ids) == {ids[0]}  # recorded, not yet run by the recorded task
    assert len(world.blocks("Work")) == 3


def test_a_request_while_the_batch_holds_a_calendar_is_synced_again_right_after(
    radicale_server, owner, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    world, ids = batch_world(radicale_server, owner)
    sync = engine.sync_source

    def meanwhile(calendar, **options):
        if str(calendar.id) == ids[1]:
            with django_capture_on_commit_callbacks(execute=True):
                tasks.enqueue_calendar_sync(ids[0])
            # Another worker takes that task, finds the lock held and returns.
            cache.delete(tasks.queued_key(ids[0], settings.CELERY_TASK_DEFAULT_QUEUE))
        return sync(calendar, **options)

    monkeypatch.setattr(engine, "sync_source", meanwhile)
    tasks.sync_calendars.run(ids)

    # The person's task, then the batch's call for one more run once it let go, sent at once.
    assert enqueued.syncs == [ids[0], ids[0]]
    assert enqueued.countdowns == [0, 0]
    assert pending(ids) == {ids[0]}
    assert len(world.blocks("Work")) == 3
