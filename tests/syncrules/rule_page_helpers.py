"""Factories and helpers for the sync-rule pages and services tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import factory
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from calendars.models import Calendar
from syncrules import tasks
from syncrules.models import Block, SyncRule, SyncRun, SyncState
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, UserFactory


class SyncRuleFactory(factory.django.DjangoModelFactory):
    """A rule; pass ``sources=[...]`` and ``targets=[...]`` (calendars) to set its calendars."""

    class Meta:
        model = SyncRule
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")

    @factory.post_generation
    def sources(rule, create, extracted, **kwargs):
        if create and extracted:
            rule.sources.set(extracted)

    @factory.post_generation
    def targets(rule, create, extracted, **kwargs):
        if create and extracted:
            rule.targets.set(extracted)


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    rule = factory.SubFactory(SyncRuleFactory)
    source_calendar = factory.SubFactory(CalendarFactory)
    started_at = factory.LazyFunction(lambda: datetime.now(UTC))
    finished_at = factory.LazyAttribute(lambda run: run.started_at + timedelta(seconds=2))


class BlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Block

    rule = factory.SubFactory(SyncRuleFactory)
    source_calendar = factory.SubFactory(CalendarFactory)
    source_event_id = factory.Sequence(lambda n: f"event-{n}")
    source_series_id = factory.LazyAttribute(lambda block: block.source_event_id)
    target_calendar = factory.SubFactory(CalendarFactory)
    target_event_id = factory.Sequence(lambda n: f"remote-{n}")
    state = Block.State.SYNCED
    start = factory.LazyFunction(lambda: datetime.now(UTC) + timedelta(days=1))
    end = factory.LazyAttribute(lambda block: block.start + timedelta(hours=1))


def client_for(user) -> Client:
    client = Client()
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


def rule_form_data(*, sources, targets, **changes: object) -> dict[str, object]:
    """What the rule form posts with its defaults, for ``sources`` and ``targets`` (calendars)."""
    data: dict[str, object] = {
        "name": "Work into personal",
        "sources": [str(calendar.id) for calendar in sources],
        "targets": [str(calendar.id) for calendar in targets],
        "visibility": "busy",
        "busy_title": "Busy",
        "include_keywords": "",
        "exclude_keywords": "",
        "skip_declined": "on",
        "skip_free": "on",
        "tentative": "busy",
        "all_day": "skip",
        "show_as": "busy",
        "lookahead_days": "60",
        "lookback_days": "0",
        "working_hours_start": "",
        "working_hours_end": "",
        "enabled": "on",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


@dataclass
class Enqueued:
    """What the sync tasks were asked to do, recorded at the Celery boundary."""

    syncs: list[str] = field(default_factory=list)
    # The queue and countdown of each sync sent, in the order of ``syncs``.
    queues: list[str | None] = field(default_factory=list)
    countdowns: list[float] = field(default_factory=list)
    stale_removals: int = 0

    def full(self, calendar_id: object) -> bool:
        """Whether a full read of the calendar is asked for and not yet done (a durable row)."""
        state = SyncState.objects.filter(calendar_id=calendar_id).first()
        return state is not None and state.full_requested > state.full_served

    def queued(self, calendar_id: object) -> bool:
        return bool(
            cache.get(tasks.queued_key(str(calendar_id), settings.CELERY_TASK_DEFAULT_QUEUE))
        )

    def clean_up(self) -> None:
        """Forget the coalescing keys, so no later test finds a sync "already queued"."""
        forget_queued({*self.syncs, *map(str, Calendar.objects.values_list("id", flat=True))})


def forget_queued(calendar_ids: Iterable[object]) -> None:
    """Forget the wake-up calls believed queued for the calendars, on every queue."""
    cache.delete_many(
        [
            tasks.queued_key(str(calendar_id), queue)
            for calendar_id in calendar_ids
            for queue in settings.CELERY_QUEUES_ALL
        ]
    )


def record_enqueues(monkeypatch) -> Enqueued:
    """Record the tasks sent instead of sending them to a broker (call ``clean_up``)."""
    enqueued = Enqueued()

    def sync_send(
        args: tuple[str],
        kwargs: object = None,
        queue: str | None = None,
        countdown: float = 0,
        producer: object = None,
    ) -> None:
        enqueued.syncs.append(args[0])
        enqueued.queues.append(queue)
        enqueued.countdowns.append(countdown)

    def batch_send(
        args: tuple[list[str]],
        kwargs: object = None,
        queue: str | None = None,
        producer: object = None,
    ) -> None:
        for calendar_id in args[0]:
            sync_send((calendar_id,), kwargs, queue=queue)

    def stale_delay() -> None:
        enqueued.stale_removals += 1

    monkeypatch.setattr(tasks.sync_calendar, "apply_async", sync_send)
    monkeypatch.setattr(tasks.sync_calendars, "apply_async", batch_send)
    monkeypatch.setattr(tasks.remove_stale_blocks, "delay", stale_delay)
    return enqueued


def ics_event(
    uid: str,
    start: datetime,
    *,
    minutes: int = 60,
    title: str = "Meeting",
    location: str = "",
    description: str = "",
    extra: tuple[str, ...] = (),
) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
        f"DTEND:{start + timedelta(minutes=minutes):%Y%m%dT%H%M%SZ}",
        f"SUMMARY:{title}",
    ]
    if location:
        lines.append(f"LOCATION:{location}")
    if description:
        lines.append(f"DESCRIPTION:{description}")
    lines += [*extra, "END:VEVENT"]
    return "\r\n".join(lines)


def ics_feed(*events: str, name: str = "Client feed") -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//EN", f"X-WR-CALNAME:{name}"]
    return ("\r\n".join([*lines, *events, "END:VCALENDAR", ""])).encode()


def days_from_now(days: int, hour: int = 9) -> datetime:
    """A whole hour (UTC) ``days`` from today: inside a 14-day preview for days 1 to 13."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days, hours=hour)
