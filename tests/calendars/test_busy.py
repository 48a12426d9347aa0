"""Busy time for booking pages: read from the real CalDAV server, cached briefly, forgotten on change."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache

from calendars.busy import calendars_busy, forget_busy
from calendars.models import Calendar, Connection
from integrations.base import BusyPolicy, Interval, Window
from syncrules.tasks import enqueue_calendar_sync
from tests.syncrules.world import make_world, soon

pytestmark = pytest.mark.django_db

POLICY = BusyPolicy()


@pytest.fixture
def world(radicale_server, owner):
    return make_world(radicale_server, owner, ["work", "home"])


def window() -> Window:
    return Window(soon(0, 0), soon(7, 0))


def event_id(world, name: str, uid: str) -> str:
    """A CalDAV event's id: the path of its object."""
    return urlsplit(world.url(name)).path + f"{uid}.ics"


def read(world, *names: str, fresh: bool = False):
    calendars = [
        Calendar.objects.select_related("connection").get(id=world.calendars[name].id)
        for name in names or ("work", "home")
    ]
    return calendars_busy(calendars, window(), POLICY, fresh=fresh)


def test_busy_time_is_read_from_every_calendar(world):
    world.put("work", "a", soon(1, 9))
    world.put("home", "b", soon(2, 18), minutes=30)

    found = read(world)

    assert sorted(found.spans, key=lambda span: span.start) == [
        Interval(soon(1, 9), soon(1, 10), event_id=event_id(world, "work", "a")),
        Interval(soon(2, 18), soon(2, 18, 30), event_id=event_id(world, "home", "b")),
    ]
    assert found.unreadable == []


def test_a_second_read_comes_from_the_cache_until_the_calendar_is_said_to_change(world):
    world.put("work", "a", soon(1, 9))
    assert len(read(world, "work").spans) == 1
    world.put("work", "b", soon(1, 14))  # no notification yet

    assert len(read(world, "work").spans) == 1
    enqueue_calendar_sync(world.calendars["work"].id)  # what a push notification does

    assert len(read(world, "work").spans) == 2


def test_a_fresh_read_skips_the_cache_and_leaves_it_alone(world):
    read(world, "work")
    world.put("work", "a", soon(1, 9))

    assert len(read(world, "work", fresh=True).spans) == 1
    assert read(world, "work").spans == []


def test_an_answer_read_while_a_change_was_announced_is_never_served(world, monkeypatch):
    from integrations.caldav.provider import CalDAVProvider

    real_busy = CalDAVProvider.busy

    def busy_then_a_notification(self, *args, **kwargs):
        spans = real_busy(self, *args, **kwargs)
        world.put("work", "late", soon(1, 16))
        forget_busy([world.calendars["work"].id])
        return spans

    monkeypatch.setattr(CalDAVProvider, "busy", busy_then_a_notification)
    assert read(world, "work").spans == []
    monkeypatch.undo()

    assert read(world, "work").spans == [
        Interval(soon(1, 16), soon(1, 17), event_id=event_id(world, "work", "late"))
    ]


def test_the_cache_holds_times_and_event_ids_only(world):
    world.put("work", "a", soon(1, 9), title="Divorce lawyer", location="Main St 5")
    read(world, "work")

    calendar_id = world.calendars["work"].id
    keys = cache._cache.get_client().keys(f"{cache.key_prefix}:*busy2:{calendar_id}:*")
    stored = [cache.get(key.decode().split(":", 2)[2]) for key in keys]
    start, end = int(soon(1, 9).timestamp()), int(soon(1, 10).timestamp())
    assert stored == [[(start, end, False, event_id(world, "work", "a"))]]


def test_a_calendar_that_needs_reconnecting_is_unreadable_without_asking_its_server(world):
    Connection.objects.filter(id=world.connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT
    )
    found = read(world, "work")
    assert [calendar.name for calendar in found.unreadable] == ["work"]
    assert found.spans == []


def test_a_server_that_is_down_makes_its_calendar_unreadable_and_says_so(world):
    Calendar.objects.filter(id=world.calendars["home"].id).update(
        remote_id="http://127.0.0.1:9/user/home/"
    )
    world.put("work", "a", soon(1, 9))

    found = read(world)

    assert [calendar.name for calendar in found.unreadable] == ["home"]
    assert found.spans == [Interval(soon(1, 9), soon(1, 10), event_id=event_id(world, "work", "a"))]
    home = Calendar.objects.get(id=world.calendars["home"].id)
    assert home.last_error and home.last_error_at
    # Nothing of the failed read was cached as "free".
    Calendar.objects.filter(id=home.id).update(remote_id=world.calendars["home"].remote_id)
    world.put("home", "b", soon(2, 9))
    assert len(read(world, "home").spans) == 1


def test_each_policy_has_its_own_entry(world):
    world.put("work", "maybe", soon(1, 9), extra="STATUS:TENTATIVE")
    calendar = Calendar.objects.select_related("connection").get(id=world.calendars["work"].id)

    counting = calendars_busy([calendar], window(), BusyPolicy(tentative=True))
    ignoring = calendars_busy([calendar], window(), BusyPolicy(tentative=False))

    assert len(counting.spans) == 1
    assert ignoring.spans == []
    assert timedelta(0) < window().end - window().start
