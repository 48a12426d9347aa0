"""Polling spread over the interval, claimed once even by two beats, paced per server, and queues
by urgency."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery.signals import before_task_publish
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import F
from django.utils import timezone

from calendars.models import Calendar, Connection
from syncrules import pacing, polling, tasks
from syncrules.models import SyncRule, SyncState
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.world import make_world, soon

EVERY = timedelta(seconds=60)
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def every_minute(settings):
    settings.SYNC_POLL_INTERVAL_SECONDS = EVERY.total_seconds()


def test_each_calendar_has_its_own_moment_and_together_they_fill_the_interval_evenly():
    ids = [uuid.uuid4() for _ in range(20_000)]
    seconds = Counter(int(polling.moment_in_interval(i, EVERY).total_seconds()) for i in ids)

    assert set(seconds) == set(range(60))
    assert max(seconds.values()) <= 2 * len(ids) / 60  # the busiest second, against the average
    same = ids[0]
    assert polling.moment_in_interval(same, EVERY) == polling.moment_in_interval(str(same), EVERY)


def test_the_next_moment_keeps_the_calendar_s_place_in_every_interval():
    calendar_id = uuid.uuid4()
    first = polling.next_moment(calendar_id, START, EVERY)
    assert START < first <= START + EVERY
    assert polling.next_moment(calendar_id, first, EVERY) == first + EVERY
    assert polling.next_moment(calendar_id, first - timedelta(microseconds=1), EVERY) == first
    assert polling.next_moment(calendar_id, START + 10 * EVERY, EVERY) == first + 10 * EVERY


def polled_sources(owner, count: int, kind=Connection.Kind.CALDAV) -> list[str]:
    """``count`` calendars of one CalDAV account, each read by an enabled rule, synced long ago."""
    connection = ConnectionFactory(user=owner, kind=kind, server_url="https://dav.example.net/")
    target = CalendarFactory(connection=ConnectionFactory(user=owner))
    sources = [CalendarFactory(connection=connection) for _ in range(count)]
    rule = SyncRule.objects.create(user=owner, name="sources → target")
    rule.sources.set(sources)
    rule.targets.set([target])
    polling.track_new_sources()
    return [str(source.id) for source in sources]


def requests_of(calendar_ids) -> dict[str, int]:
    states = SyncState.objects.filter(calendar_id__in=calendar_ids)
    return {
        str(calendar_id): n for calendar_id, n in states.values_list("calendar_id", "requested")
    }


@pytest.mark.django_db
def test_a_round_hands_out_only_the_calendars_whose_moment_has_come(owner):
    ids = polled_sources(owner, 40)
    assert polling.hand_out(now=START).polled == []  # the first look gives each its moment

    handed_out: dict[str, datetime] = {}
    for second in range(1, 61):
        at = START + timedelta(seconds=second)
        for calendar_id in polling.hand_out(now=at).polled:
            assert calendar_id not in handed_out
            handed_out[calendar_id] = at
            serve(calendar_id)

    assert set(handed_out) == set(ids)  # each once in the interval...
    for calendar_id, at in handed_out.items():  # ...at its own moment
        moment = polling.next_moment(calendar_id, START, EVERY)
        assert at - timedelta(seconds=1) < moment <= at
    assert requests_of(ids) == dict.fromkeys(ids, 1)


def serve(calendar_id: str) -> None:
    """What a sync that found nothing does to the row (without the provider)."""
    SyncState.objects.filter(calendar_id=calendar_id).update(
        served=F("requested"), full_served=F("full_requested"), pending_since=None
    )


@pytest.mark.django_db
def test_a_round_leaves_out_what_was_synced_lately_is_waiting_or_is_not_polled(owner):
    recent, waiting, backing_off, paused_rule, polled = polled_sources(owner, 5)
    for calendar_id in (recent, backing_off, paused_rule, polled):
        serve(calendar_id)
    now = START + EVERY
    SyncState.objects.filter(calendar_id=recent).update(finished_at=now - EVERY / 3)
    SyncState.objects.filter(calendar_id=waiting).update(requested=1, pending_since=now)
    SyncState.objects.filter(calendar_id=polled).update(finished_at=now - EVERY)
    SyncState.objects.filter(calendar_id=backing_off).update(retry_at=now + timedelta(minutes=1))
    alone = SyncRule.objects.create(user=owner, name="paused", enabled=True)
    SyncRule.objects.exclude(id=alone.id).update(enabled=False)
    alone.sources.set(Calendar.objects.filter(id__in=[recent, waiting, backing_off, polled]))
    SyncState.objects.update(next_poll_at=now - timedelta(seconds=1))

    round_ = polling.hand_out(now=now)

    assert round_.polled == [polled]
    assert round_.skipped == 4
    assert SyncState.objects.filter(next_poll_at__lte=now).count() == 0  # all moved on


@pytest.mark.django_db
def test_after_an_outage_of_the_beat_the_backlog_drains_in_rounds_and_returns_to_its_places(
    owner, monkeypatch
):
    monkeypatch.setattr(polling, "ROUND_LIMIT", 15)
    ids = polled_sources(owner, 40)
    polling.hand_out(now=START)
    late = START + 5 * EVERY + timedelta(seconds=30)  # five intervals without a beat

    first, second, third = (polling.hand_out(now=late).polled for _ in range(3))

    assert (len(first), len(second), len(third)) == (15, 15, 10)
    assert set(first) | set(second) | set(third) == set(ids)
    for state in SyncState.objects.filter(calendar_id__in=ids):
        assert state.next_poll_at == polling.next_moment(state.calendar_id, late, EVERY)


@pytest.mark.forks
@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_hand_out_each_calendar_once_per_interval(owner, tmp_path):
    ids = polled_sources(owner, 300)
    polling.hand_out(now=START)
    intervals = 3
    connections.close_all()
    beats = []
    for beat in range(2):
        pid = os.fork()
        if pid == 0:  # a beat: ticks each second of three intervals, serving what it hands out
            code = 1
            try:
                log = []
                for second in range(1, intervals * 60 + 1):
                    at = START + timedelta(seconds=second)
                    for calendar_id in polling.hand_out(now=at).polled:
                        log.append([calendar_id, second])
                        serve(calendar_id)
                (tmp_path / f"beat-{beat}.json").write_text(json.dumps(log))
                code = 0
            finally:
                connections.close_all()
                os._exit(code)
        beats.append(pid)
    assert all(os.waitpid(pid, 0)[1] == 0 for pid in beats)

    logs = [json.loads((tmp_path / f"beat-{beat}.json").read_text()) for beat in range(2)]
    handed_out = Counter(calendar_id for log in logs for calendar_id, _ in log)
    assert handed_out == dict.fromkeys(ids, intervals)  # no calendar twice, none forgotten
    assert all(logs)  # both beats took part...
    seconds: dict[str, list[int]] = {}
    for log in logs:
        for calendar_id, second in log:
            seconds.setdefault(calendar_id, []).append(second)
    for when in seconds.values():  # ...and each calendar kept its place
        first, *rest = sorted(when)
        assert rest == [first + 60 * n for n in range(1, intervals)]
    assert requests_of(ids) == dict.fromkeys(ids, intervals)


def test_servers_are_small_hosts_or_the_accounts_of_big_services():
    caldav = Connection(kind=Connection.Kind.CALDAV, server_url="https://DAV.example.net:8443/x/")
    icloud = Connection(kind=Connection.Kind.ICLOUD, server_url="https://caldav.icloud.com/")
    fastmail_like = Connection(
        kind=Connection.Kind.CALDAV, server_url="https://p07-caldav.icloud.com"
    )
    google = Connection(kind=Connection.Kind.GOOGLE)

    assert pacing.server_of(caldav) == "host:dav.example.net"
    assert pacing.server_of(icloud) == f"account:{icloud.id}"
    assert pacing.server_of(fastmail_like) == f"account:{fastmail_like.id}"
    assert pacing.server_of(google) == ""


@pytest.mark.django_db
def test_a_throttled_server_pauses_every_calendar_of_it_longer_with_each_strike(owner):
    server = f"host:{uuid.uuid4().hex}.example.net"
    try:
        assert pacing.paused([server]).get(server, 0) == 0
        first = pacing.pause(server, retry_after=5)
        assert 15 <= first <= 30  # never shorter than asked, nor than the first backoff
        assert first - 1 < pacing.paused([server]).get(server, 0) <= first
        second = pacing.pause(server, retry_after=None)
        assert 30 <= second <= 60
        assert pacing.pause(server, retry_after=900) >= 900
    finally:
        cache.delete(f"poll-pause:{server}")


@pytest.mark.django_db
def test_a_calendar_of_a_paused_server_waits_without_reading_it(
    radicale_server, owner, enqueued, fault_proxy
):
    world = make_world(radicale_server, owner, ["Work", "Personal"], server_url=fault_proxy.url)
    world.rule(["Personal"], ["Work"])
    world.put("Personal", "dentist", soon(1, 10))
    personal = str(world.calendars["Personal"].id)
    tasks.enqueue_calendar_sync(personal)
    server = pacing.server_of(world.connection)
    fault_proxy.fault = lambda method, path, count: 503
    try:
        with pytest.raises(Exception):  # noqa: B017 - the task's retry, raised through Celery
            tasks.sync_calendar.run(personal)
        assert pacing.paused([server]).get(server, 0) >= 15
        asked = sum(fault_proxy.seen.values())

        tasks.sync_calendar.run(personal)

        assert sum(fault_proxy.seen.values()) == asked  # the server was left alone
        assert enqueued.syncs == [personal]
        assert enqueued.countdowns[0] >= 15
        assert SyncState.objects.get(calendar_id=personal).pending
    finally:
        cache.delete(f"poll-pause:{server}")


@pytest.mark.forks
@pytest.mark.django_db(transaction=True)
def test_no_more_syncs_than_the_cap_talk_to_one_server_at_once(
    radicale_server, owner, enqueued, fault_proxy, settings
):
    settings.SYNC_POLLS_PER_SERVER = 2
    names = [f"Calendar {n}" for n in range(8)]
    world = make_world(radicale_server, owner, ["Target", *names], server_url=fault_proxy.url)
    for name in names:
        world.rule([name], ["Target"], name=name)
    ids = [str(world.calendars[name].id) for name in names]
    for calendar_id in ids:
        tasks.enqueue_calendar_sync(calendar_id)
    stall = 0.4
    began: list[float] = []

    def slow(method: str, path: str, count: int) -> float:
        began.append(time.monotonic())
        return stall

    fault_proxy.fault = slow
    deadline = time.monotonic() + 120
    while pending := [c for c in ids if SyncState.objects.get(calendar_id=c).pending]:
        assert time.monotonic() < deadline
        connections.close_all()
        children = []
        for calendar_id in pending:
            pid = os.fork()
            if pid == 0:  # a worker's pool child running the task
                try:
                    tasks.sync_calendar.run(calendar_id)
                finally:
                    connections.close_all()
                    os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)

    ends = sorted((start, start + stall) for start in began)
    busiest = max(sum(1 for s, e in ends if s <= start < e) for start, _ in ends)
    assert busiest <= 2  # the cap, across processes
    assert busiest == 2  # and used: two at a time, not one


@pytest.mark.django_db
def test_syncs_go_to_a_queue_by_urgency(
    radicale_server, owner, enqueued, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks.reconcile_target, "delay", lambda calendar_id: None)
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.rule(["Personal"], ["Work"])
    personal = str(world.calendars["Personal"].id)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.enqueue_calendar_sync(personal)  # a person, or a notification
    with django_capture_on_commit_callbacks(execute=True):
        tasks.reconcile_all()
    serve(personal)
    SyncState.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_calendars()

    assert list(zip(enqueued.syncs, enqueued.queues, strict=True)) == [
        (personal, settings.CELERY_TASK_DEFAULT_QUEUE),
        (personal, settings.CELERY_BULK_QUEUE),
        (personal, settings.CELERY_POLL_QUEUE),
    ]


def test_routine_tasks_are_routed_to_the_bulk_queue_of_the_broker():
    # Read as they leave for the real broker: a worker of this run may be consuming the queues.
    sent: dict[str, str] = {}

    def record(sender=None, routing_key=None, **kwargs):  # type: ignore[no-untyped-def]
        sent[sender] = routing_key

    before_task_publish.connect(record, weak=False)
    try:
        tasks.finish_clean_ups.delay()
        tasks.sync_calendar.apply_async(
            (str(uuid.uuid4()),),
            {"queue": settings.CELERY_POLL_QUEUE},
            queue=settings.CELERY_POLL_QUEUE,
        )
        tasks.resume_syncs.delay()
    finally:
        before_task_publish.disconnect(record)
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(*settings.CELERY_QUEUES_ALL)

    assert sent == {
        "syncrules.tasks.finish_clean_ups": settings.CELERY_BULK_QUEUE,
        "syncrules.tasks.sync_calendar": settings.CELERY_POLL_QUEUE,
        "syncrules.tasks.resume_syncs": settings.CELERY_TASK_DEFAULT_QUEUE,
    }


@pytest.mark.django_db
def test_a_round_is_cut_so_that_the_polling_queue_never_holds_more_than_its_limit(
    owner, enqueued, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(polling, "BACKLOG_LIMIT", 100)
    ids = polled_sources(owner, 20)
    for calendar_id in ids:
        serve(calendar_id)
    SyncState.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
    # The workers are behind: 9 batches of polls wait (the broker's count is tested below).
    monkeypatch.setattr(
        tasks, "_waiting_in", lambda queue: 9 if queue == settings.CELERY_POLL_QUEUE else 0
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_calendars()

    assert len(enqueued.syncs) == 100 - 9 * tasks.POLL_BATCH  # the limit, with those waiting
    still_due = SyncState.objects.filter(next_poll_at__lte=timezone.now()).count()
    assert still_due == 10  # handed out by the next rounds, oldest first
    assert polling.hand_out(backlog=100).polled == []


def test_the_tasks_waiting_in_a_queue_are_counted_on_the_broker():
    # A queue of its own: a worker of this run may be consuming the run's queues.
    queue = f"waiting-test-{uuid.uuid4().hex}"
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert tasks._waiting_in(queue) == 0  # nothing sent to it yet
    broker.lpush(queue, *[b"a batch of polls waiting"] * 9)
    try:
        assert tasks._waiting_in(queue) == 9
    finally:
        broker.delete(queue)
