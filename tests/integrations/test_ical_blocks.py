"""Blocks written as iCalendar read back exactly, whatever their text holds."""

from datetime import UTC, datetime

import icalendar
import pytest

from integrations.base import (
    BOOKING_MARKER_PROPERTY,
    MARKER_PROPERTY,
    BlockSpec,
    MarkerKind,
    Transparency,
    Window,
)
from integrations.ical import parse_calendar, read_events, render_block

WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "title",
    [
        "Busy",
        "Lunch; with, Ana \\ and Bob",
        "Überlänge " * 20,  # folded across lines, never inside a UTF-8 character
        "Two\nlines\r\nand a return\r",
        "絵文字 🎉 " * 12,
    ],
)
def test_a_block_reads_back_exactly(title):
    spec = BlockSpec(
        block_id="5f1c7e9a-0000-4000-8000-000000000001",
        start=datetime(2026, 12, 1, 9, tzinfo=UTC),
        end=datetime(2026, 12, 1, 10, 30, tzinfo=UTC),
        all_day=False,
        title=title,
        description="Agenda: 1, 2; 3",
        location="Room \\ 7",
        transparency=Transparency.FREE,
    )
    raw = render_block(spec, uid="multical-1")

    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    (event,) = read_events(parse_calendar(raw), WINDOW).events
    expected_title = title.replace("\r\n", "\n").replace("\r", "\n")
    assert (event.title, event.description, event.location) == (
        expected_title,
        spec.description,
        spec.location,
    )
    assert (event.start, event.end, event.transparency, event.block_id) == (
        spec.start,
        spec.end,
        Transparency.FREE,
        spec.block_id,
    )
    vevent = icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]
    assert str(vevent["CLASS"]) == "PRIVATE" and "DTEND" in vevent and "VALARM" not in raw.decode()
    assert str(vevent[MARKER_PROPERTY]) == spec.block_id


def test_an_all_day_block_keeps_its_dates():
    spec = BlockSpec(
        block_id="b",
        start=datetime(2026, 12, 24, tzinfo=UTC),
        end=datetime(2026, 12, 27, tzinfo=UTC),
        all_day=True,
        title="Holidays",
    )
    raw = render_block(spec, uid="u")
    assert b"DTSTART;VALUE=DATE:20261224" in raw and b"DTEND;VALUE=DATE:20261227" in raw
    (event,) = read_events(parse_calendar(raw), WINDOW).events
    assert event.all_day and (event.start, event.end) == (spec.start, spec.end)


def test_a_booking_event_carries_the_booking_marker_and_reads_back_as_a_real_event():
    spec = BlockSpec(
        block_id="5f1c7e9a-0000-4000-8000-000000000001",
        start=datetime(2026, 12, 1, 9, tzinfo=UTC),
        end=datetime(2026, 12, 1, 10, tzinfo=UTC),
        all_day=False,
        title="Intro call with Ana Lima",
        description="Answers: budget; timeline",
        location="https://example.zoom.us/j/123",
        kind=MarkerKind.BOOKING,
    )
    raw = render_block(spec, uid="multical-booking-1")

    (event,) = read_events(parse_calendar(raw), WINDOW).events
    assert (event.booking_id, event.block_id, event.ours) == (spec.block_id, "", False)
    assert (event.title, event.description, event.location) == (
        spec.title,
        spec.description,
        spec.location,
    )
    vevent = icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]
    assert str(vevent[BOOKING_MARKER_PROPERTY]) == spec.block_id
    assert MARKER_PROPERTY not in vevent
