"""Booking pages on a user with a real Radicale calendar, made in one line."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.models import BookingPage, Profile
from booking.public_display import parse_start
from booking.services import bookings as booking_services
from booking.services.bookings import booking_create
from tests.syncrules.world import World, make_world

WEEKDAYS_ALL_DAY = {str(day): [[0, 1440]] for day in range(1, 8)}


@dataclass
class Host:
    world: World
    page: BookingPage

    @property
    def handle(self) -> str:
        return self.page.owner.booking_profile.handle

    @property
    def path(self) -> str:
        return f"/book/{self.handle}/{self.page.public_slug}/"


def make_host(radicale_server, user, **page_fields: object) -> Host:
    """``user`` with a Radicale calendar "work" that is busy time and where bookings go, and a
    listed 30-minute page open around the clock with no notice (unless ``page_fields`` say)."""
    world = make_world(radicale_server, user, ["work"])
    Profile.objects.get_or_create(
        user=user, defaults={"handle": f"host-{str(user.id)[:8]}", "display_name": "Ada Host"}
    )
    fields: dict[str, object] = {
        "title": "Intro call",
        "slug": "intro",
        "listed": True,
        "durations": [30],
        "time_zone": "UTC",
        "weekly_hours": WEEKDAYS_ALL_DAY,
        "minimum_notice": 0,
        "write_calendar": world.calendars["work"],
        **page_fields,
    }
    page = BookingPage.objects.create(owner=user, **fields)
    return Host(world=world, page=page)


def at(day: date, hour: int, minute: int = 0, zone: str = "UTC") -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def days_ahead(days: int) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


def someone_else_books(host: Host, form_url: str) -> datetime:
    """Book, as another attendee, the time whose form is open at ``form_url``; that time."""
    found = re.search(r"start=(\w+)", form_url)
    assert found, form_url
    start = parse_start(found[1])
    booking_create(
        page=host.page,
        start=start,
        duration=30,
        attendee_name="Quicker",
        attendee_email="q@example.com",
        attendee_time_zone="UTC",
        answers=[],
        submission_key="quicker",
    )
    return start


def read_in_step(monkeypatch) -> None:
    """Two submissions both read the calendars before either stores its booking: how a
    double-click arrives most of the time."""
    barrier = threading.Barrier(2)
    read = booking_services.page_slots

    def in_step(*args, **kwargs):
        offered = read(*args, **kwargs)
        barrier.wait(timeout=30)
        return offered

    monkeypatch.setattr(booking_services, "page_slots", in_step)
