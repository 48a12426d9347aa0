"""Sync tasks: coalesced triggers, one sync per calendar at a time, backoff, periodic jobs."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import call_command

from syncrules import tasks
from syncrules.models import Block
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """The sync tasks sent to the broker (the boundary of this test), by calendar id."""
    sent: list[str] = []
    monkeypatch.setattr(tasks.sync_calendar, "delay", lambda calendar_id: sent.append(calendar_id))
    yield sent
    for calendar_id in set(sent):
        cache.delete_many(
            [f"sync:{name}:{calendar_id}" for name in ("queued", "full", "lock", "again")]
        )


@pytest.fixture
def world(radicale_server, owner):
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.rule(["Personal"], ["Work"])
    return world


def test_a_burst_of_triggers_queues_one_sync(world, enqueued, django_capture_on_commit_callbacks):
    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(50):
            tasks.enqueue_calendar_sync(calendar_id)
    assert enqueued == [calendar_id]


def test_a_trigger_after_the_sync_started_queues_another(
    world, enqueued, django_capture_on_commit_callbacks
):
    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
    tasks.sync_calendar.run(calendar_id)  # the queued sync runs and clears the mark
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
    assert enqueued == [calendar_id, calendar_id]


def test_a_calendar_being_synced_is_not_synced_twice_at_once(world, enqueued):
    calendar_id = str(world.calendars["Personal"].id)
    world.put("Personal", "dentist", soon(1, 10))
    cache.add(f"sync:lock:{calendar_id}", "another worker", timeout=60)

    tasks.sync_calendar.run(calendar_id)

    assert not Block.objects.exists()  # it did not sync under another worker's lock
    assert cache.get(f"sync:again:{calendar_id}")  # but asked the running sync to go once more
    assert enqueued == []


def test_a_trigger_during_a_sync_makes_it_run_once_more_at_its_end(world, enqueued, monkeypatch):
    calendar_id = str(world.calendars["Personal"].id)
    triggered = []

    def sync_and_meanwhile_a_trigger(calendar, full):
        if not triggered:
            triggered.append(True)
            tasks.sync_calendar.run(calendar_id)  # a notification handled by another worker

    monkeypatch.setattr(tasks.engine, "sync_source_calendar", sync_and_meanwhile_a_trigger)
    tasks.sync_calendar.run(calendar_id)

    assert enqueued == [calendar_id]  # queued right away, not after a delay
    assert cache.get(f"sync:again:{calendar_id}") is None
    assert cache.get(f"sync:lock:{calendar_id}") is None


def test_a_full_sync_request_survives_coalescing(
    world, enqueued, django_capture_on_commit_callbacks, monkeypatch
):
    calendar_id = str(world.calendars["Personal"].id)
    seen = []
    monkeypatch.setattr(
        tasks.engine, "sync_source_calendar", lambda calendar, full: seen.append(full)
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
        tasks.enqueue_calendar_sync(calendar_id, full=True)
    tasks.sync_calendar.run(calendar_id)
    assert seen == [True]


def test_the_poll_queues_only_sources_of_enabled_rules(
    world, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_calendars()
    assert enqueued == [str(world.calendars["Personal"].id)]


def test_backoff_grows_with_jitter_and_honours_retry_after():
    assert 15 <= tasks.backoff_seconds(0, None) <= 30
    assert 120 <= tasks.backoff_seconds(3, None) <= 240
    assert tasks.backoff_seconds(10, None) <= 3600
    assert tasks.backoff_seconds(0, 500) >= 500


def test_the_sync_command_syncs_everything_now(world, capsys):
    world.put("Personal", "dentist", soon(1, 10))
    call_command("sync", "--all")
    assert len(world.blocks("Work")) == 1
    assert "synced" in capsys.readouterr().out


def test_a_pushing_calendar_is_polled_only_while_it_has_no_live_channel(
    owner, enqueued, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from calendars.models import Connection
    from syncrules.models import SyncRule
    from tests.factories import CalendarFactory, ConnectionFactory

    google = CalendarFactory(connection=ConnectionFactory(user=owner, kind=Connection.Kind.GOOGLE))
    rule = SyncRule.objects.create(user=owner, name="Google → Work")
    rule.sources.add(google)
    rule.targets.add(CalendarFactory(connection=ConnectionFactory(user=owner)))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_calendars()
    assert enqueued == [str(google.id)]

    cache.delete(f"sync:queued:{google.id}")
    google.push_resource_id, google.push_expires_at = "resource", timezone.now() + timedelta(days=3)
    google.save()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_calendars()
    assert enqueued == [str(google.id)]  # nothing more: its channel is live
