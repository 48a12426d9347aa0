"""Sync tasks: requests that are rows, coalesced wake-up calls, a lock that dies with its holder,
the sweeper that resumes what a crash left, backoff, periodic jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars.models import Calendar, Connection
from multical.lib import locks
from multical.lib.retry import backoff_seconds
from syncrules import polling, state, tasks
from syncrules.models import Block, SyncRule, SyncState
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.rule_page_helpers import forget_queued
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """The sync tasks sent to the broker (the boundary of this test): (calendar id, countdown)."""
    sent: list[tuple[str, float | None]] = []
    monkeypatch.setattr(
        tasks.sync_calendar,
        "apply_async",
        lambda args, kwargs=None, queue=None, countdown=0, producer=None: sent.append(
            (args[0], countdown or None)
        ),
    )
    monkeypatch.setattr(
        tasks.sync_calendars,
        "apply_async",
        lambda args, kwargs=None, queue=None, producer=None: sent.extend(
            (calendar_id, None) for calendar_id in args[0]
        ),
    )
    yield sent
    forget_queued(calendar_id for calendar_id, _ in sent)


@pytest.fixture
def world(radicale_server, owner):
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.rule(["Personal"], ["Work"])
    return world


def state_of(calendar_id) -> SyncState:
    return SyncState.objects.get(calendar_id=calendar_id)


def other_session_holding(name: str) -> psycopg.Connection:
    """A second database session (as another worker would have) holding the lock ``name``."""
    settings = connection.settings_dict
    session = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        autocommit=True,
    )
    session.execute("SELECT pg_advisory_lock(%s)", [locks.lock_key(name)])
    return session


def test_a_burst_of_triggers_counts_every_request_and_sends_one_task(
    world, enqueued, django_capture_on_commit_callbacks
):
    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(50):
            tasks.enqueue_calendar_sync(calendar_id)

    assert enqueued == [(calendar_id, None)]
    assert (state_of(calendar_id).requested, state_of(calendar_id).served) == (50, 0)


def test_a_sync_serves_the_requests_it_started_from(
    world, enqueued, django_capture_on_commit_callbacks
):
    calendar_id = str(world.calendars["Personal"].id)
    world.put("Personal", "dentist", soon(1, 10))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)

    tasks.sync_calendar.run(calendar_id)

    state = state_of(calendar_id)
    assert (state.requested, state.served, state.pending_since) == (1, 1, None)
    assert len(world.blocks("Work")) == 1
    assert enqueued == [(calendar_id, None)]  # the trigger's task only: nothing more was asked


def test_a_sync_loads_each_owner_with_its_calendar_not_one_query_each(
    world, enqueued, django_capture_on_commit_callbacks
):
    """Providers read the owner's zone (floating times): it comes with the calendar and the
    rule's targets, never as a query of its own per provider, on every poll."""
    calendar_id = str(world.calendars["Personal"].id)
    world.put("Personal", "dentist", soon(1, 10))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)

    with CaptureQueriesContext(connection) as queries:
        tasks.sync_calendar.run(calendar_id)

    assert len(world.blocks("Work")) == 1
    one_owner_reads = [
        query["sql"]
        for query in queries
        if query["sql"].startswith('SELECT "accounts_user"')
        and '"accounts_user"."id" =' in query["sql"]
    ]
    assert one_owner_reads == []  # the targets' owners come in one prefetch, not one by one


def test_a_task_with_nothing_asked_of_it_does_nothing(world, enqueued):
    calendar_id = str(world.calendars["Personal"].id)
    world.put("Personal", "dentist", soon(1, 10))

    tasks.sync_calendar.run(calendar_id)  # a duplicate delivery, or a late wake-up call

    assert not Block.objects.exists()


def test_a_calendar_being_synced_by_another_worker_is_not_synced_twice_at_once(
    world, enqueued, django_capture_on_commit_callbacks
):
    calendar_id = str(world.calendars["Personal"].id)
    world.put("Personal", "dentist", soon(1, 10))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
    other = other_session_holding(state.sync_lock_name(calendar_id))
    try:
        tasks.sync_calendar.run(calendar_id)
        assert not Block.objects.exists()  # it did not sync under another worker's lock
        assert state_of(calendar_id).pending  # and the request is still there for the holder
    finally:
        other.close()


def test_a_trigger_during_a_sync_makes_it_run_once_more_at_its_end(
    world, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
    sync = tasks.engine.sync_source

    def sync_and_meanwhile_a_notification(calendar, **options):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.enqueue_calendar_sync(calendar_id)
        # Another worker takes that task, finds the lock held and returns.
        forget_queued([calendar_id])
        return sync(calendar, **options)

    monkeypatch.setattr(tasks.engine, "sync_source", sync_and_meanwhile_a_notification)
    tasks.sync_calendar.run(calendar_id)
    monkeypatch.setattr(tasks.engine, "sync_source", sync)

    # The two triggers' tasks, then the holder's call for one more run, sent at once.
    assert enqueued == [(calendar_id, None), (calendar_id, None), (calendar_id, None)]
    assert (state_of(calendar_id).requested, state_of(calendar_id).served) == (2, 1)
    tasks.sync_calendar.run(calendar_id)
    assert not state_of(calendar_id).pending


def test_a_full_read_asked_for_is_done_even_when_coalesced_with_plain_triggers(
    world, enqueued, django_capture_on_commit_callbacks, monkeypatch
):
    calendar_id = str(world.calendars["Personal"].id)
    seen = []
    monkeypatch.setattr(
        tasks.engine,
        "sync_source",
        lambda calendar, full, confirm_deletions, rules: (
            seen.append(full) or tasks.engine.SyncReport()
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
        tasks.enqueue_calendar_sync(calendar_id, full=True)
        tasks.enqueue_calendar_sync(calendar_id)
    tasks.sync_calendar.run(calendar_id)
    tasks.sync_calendar.run(calendar_id)
    assert seen == [True]


def test_a_full_read_asked_for_survives_a_crash_of_the_sync_that_took_it_up(
    world, enqueued, django_capture_on_commit_callbacks, monkeypatch
):
    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id, full=True)

    def crash(calendar, **options):
        raise RuntimeError("the worker fell over mid-sync")

    monkeypatch.setattr(tasks.engine, "sync_source", crash)
    with pytest.raises(RuntimeError):
        tasks.sync_calendar.run(calendar_id)

    state = state_of(calendar_id)
    assert state.full_requested > state.full_served  # the intent outlived the crash
    assert state.failures == 1 and state.retry_at > timezone.now()


def test_a_lock_dies_with_the_process_that_held_it(world):
    """A worker killed mid-sync: its lock is free at once, not after a timeout."""
    calendar_id = str(world.calendars["Personal"].id)
    name = state.sync_lock_name(calendar_id)
    settings = connection.settings_dict
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import psycopg, time
                session = psycopg.connect(dbname={settings["NAME"]!r}, user={settings["USER"]!r},
                    host={settings["HOST"]!r}, port={settings["PORT"] or 5432!r}, autocommit=True)
                session.execute("SELECT pg_advisory_lock(%s)", [{locks.lock_key(name)}])
                print("held", flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert locks.held([name]) == {name}
    with locks.try_lock(name) as acquired:
        assert not acquired

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    deadline = time.monotonic() + 5
    while locks.held([name]) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert locks.held([name]) == set()
    with locks.try_lock(name) as acquired:
        assert acquired


def test_the_sweeper_resumes_a_request_left_unserved_once_no_sync_holds_the_calendar(
    world, enqueued, django_capture_on_commit_callbacks
):
    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
    enqueued.clear()
    forget_queued([calendar_id])  # the task was taken by a worker that then died
    SyncState.objects.filter(calendar_id=calendar_id).update(
        pending_since=timezone.now() - timedelta(minutes=2), started_at=timezone.now()
    )
    other = other_session_holding(state.sync_lock_name(calendar_id))
    try:
        tasks.resume_syncs()
        assert enqueued == []  # a sync is running: it will serve the request
    finally:
        other.close()

    tasks.resume_syncs()

    assert enqueued == [(calendar_id, None)]


def test_the_sweeper_leaves_young_requests_and_those_waiting_out_a_backoff(
    world, enqueued, django_capture_on_commit_callbacks
):
    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)
    enqueued.clear()
    forget_queued([calendar_id])

    tasks.resume_syncs()
    assert enqueued == []  # young: its own task is on its way

    SyncState.objects.filter(calendar_id=calendar_id).update(
        pending_since=timezone.now() - timedelta(minutes=5),
        retry_at=timezone.now() + timedelta(minutes=3),
    )
    tasks.resume_syncs()
    assert enqueued == []


def test_a_provider_outage_backs_off_in_the_row_and_in_the_broker(
    world, enqueued, django_capture_on_commit_callbacks, monkeypatch
):
    from integrations.base import ProviderError

    calendar_id = str(world.calendars["Personal"].id)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(calendar_id)

    def outage(calendar, **options):
        raise ProviderError("The server is down.", permanent=False, retry_after=90)

    monkeypatch.setattr(tasks.engine, "sync_source", outage)
    retried = []
    monkeypatch.setattr(
        tasks.sync_calendar, "retry", lambda countdown: retried.append(countdown) or Exception()
    )
    with pytest.raises(Exception):  # noqa: B017 - what retry() returns is raised
        tasks.sync_calendar.run(calendar_id)

    state = state_of(calendar_id)
    assert retried and retried[0] >= 90
    assert state.pending and state.failures == 1
    assert state.retry_at >= timezone.now() + timedelta(seconds=85)


def poll_round(capture_on_commit) -> None:
    """One tick of the poller at a moment every calendar's turn has come, each last synced long
    ago with nothing waiting."""
    polling.track_new_sources()
    SyncState.objects.update(
        next_poll_at=timezone.now() - timedelta(seconds=1),
        served=F("requested"),
        full_served=F("full_requested"),
        pending_since=None,
        finished_at=None,
    )
    with capture_on_commit(execute=True):
        tasks.poll_calendars()


def test_the_poll_queues_only_sources_of_enabled_rules(
    world, enqueued, django_capture_on_commit_callbacks
):
    poll_round(django_capture_on_commit_callbacks)
    assert enqueued == [(str(world.calendars["Personal"].id), None)]


def test_backoff_grows_with_jitter_and_honours_retry_after():
    assert 15 <= backoff_seconds(0, None) <= 30
    assert 120 <= backoff_seconds(3, None) <= 240
    assert backoff_seconds(10, None) <= 20 * 60
    assert backoff_seconds(0, 500) >= 500


def test_the_sync_command_syncs_everything_now(world, capsys):
    world.put("Personal", "dentist", soon(1, 10))
    call_command("sync", "--all")
    assert len(world.blocks("Work")) == 1
    assert "synced" in capsys.readouterr().out


def test_a_pushing_calendar_is_polled_only_while_it_has_no_live_channel(
    owner, enqueued, django_capture_on_commit_callbacks
):
    google = CalendarFactory(connection=ConnectionFactory(user=owner, kind=Connection.Kind.GOOGLE))
    rule = SyncRule.objects.create(user=owner, name="Google → Work")
    rule.sources.add(google)
    rule.targets.add(CalendarFactory(connection=ConnectionFactory(user=owner)))

    poll_round(django_capture_on_commit_callbacks)
    assert enqueued == [(str(google.id), None)]

    forget_queued([google.id])
    google.push_resource_id, google.push_expires_at = "resource", timezone.now() + timedelta(days=3)
    google.save()
    poll_round(django_capture_on_commit_callbacks)
    assert enqueued == [(str(google.id), None)]  # nothing more: its channel is live
    assert Calendar.objects.filter(id=google.id).exists()


def test_a_disconnection_whose_clean_up_task_was_lost_is_finished_by_the_periodic_job(
    world, enqueued, monkeypatch
):
    released = []
    monkeypatch.setattr(tasks.release_connection, "delay", released.append)
    monkeypatch.setattr(tasks.remove_stale_blocks, "delay", lambda: None)
    Connection.objects.filter(id=world.connection.id).update(status=Connection.Status.DISCONNECTED)

    tasks.finish_clean_ups()

    assert released == [str(world.connection.id)]
