"""The first read of a large calendar on a slow server: it completes, its progress is on the
calendar's row while it goes on (committed, so other processes see it) and gone after, and the
calendar's pages say how far it has got."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from calendars.models import Calendar
from integrations.caldav import client
from syncrules import engine
from tests.factories import CalendarFactory
from tests.integrations.caldav.slow_proxy import running_slow_proxy
from tests.syncrules.world import make_world, soon

DAYS = 40
PER_DAY = 3


@pytest.mark.django_db(transaction=True)
def test_a_first_read_too_large_for_one_request_completes_showing_its_progress(
    radicale_server, owner, monkeypatch
):
    monkeypatch.setattr(client, "TIMEOUT", 2.0)
    with running_slow_proxy(radicale_server.url, per_object=0.02) as slow:
        world = make_world(radicale_server, owner, ["Big", "Work"], server_url=slow.url)
        world.rule(["Big"], ["Work"])
        for day in range(DAYS):
            for slot in range(PER_DAY):
                world.put("Big", f"e-{day}-{slot}", soon(day, 8 + 2 * slot))
        big = world.calendars["Big"]
        seen: list[tuple[datetime | None, datetime | None]] = []

        def look_at_the_row(method: str, body: bytes) -> None:
            # Another process's view: the proxy's thread reads through a connection of its own.
            seen.append(
                Calendar.objects.values_list("full_read_started_at", "full_read_reached").get(
                    id=big.id
                )
            )
            connections.close_all()

        slow.on_request = look_at_the_row
        engine.sync_source_calendar(big)
        slow.on_request = None

    assert len(world.blocks("Work")) == DAYS * PER_DAY
    progress = [reached for started, reached in seen if started is not None]
    assert len(progress) >= 3 and progress == sorted(progress)
    assert len({started for started, _ in seen if started is not None}) == 1
    big.refresh_from_db()
    assert (big.full_read_started_at, big.full_read_reached) == (None, None)
    assert big.last_synced_at is not None


def reading(calendar: Calendar, *, synced: bool) -> Calendar:
    calendar.full_read_started_at = timezone.now() - timedelta(minutes=3)
    calendar.full_read_reached = datetime(2030, 3, 14, 12, tzinfo=UTC)
    calendar.last_synced_at = timezone.now() - timedelta(days=1) if synced else None
    calendar.save()
    return calendar


@pytest.mark.parametrize(
    ("language", "synced", "words"),
    [
        ("en", False, "Reading your calendar for the first time: up to 14 March"),
        ("en", True, "Reading the whole calendar again: up to 14 March"),
        ("de", False, "Ihr Kalender wird zum ersten Mal gelesen: bis zum 14. März"),
        ("de", True, "Der ganze Kalender wird neu gelesen: bis zum 14. März"),
    ],
)
def test_the_calendar_page_and_the_calendars_page_say_how_far_a_long_read_has_got(
    owner, owner_client, language, synced, words
):
    owner.language = language
    owner.save(update_fields=["language"])
    calendar = reading(
        CalendarFactory(connection__user=owner, remote_id="https://dav.example.com/big/"),
        synced=synced,
    )

    page = owner_client.get(reverse("syncrules:calendar_detail", args=[calendar.id]))
    listing = owner_client.get(reverse("calendars:calendar_list"))

    assert words in " ".join(page.content.decode().split())
    assert words in " ".join(listing.content.decode().split())


def test_a_calendar_that_is_not_being_read_says_nothing_of_it(owner, owner_client):
    calendar = CalendarFactory(connection__user=owner)

    page = owner_client.get(reverse("syncrules:calendar_detail", args=[calendar.id]))

    assert "calendar-state__reading" not in page.content.decode()
