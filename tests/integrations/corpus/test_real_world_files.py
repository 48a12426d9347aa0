"""Real-world calendar files (see SOURCES.md), each with the instances a careful reader finds.

A careful reader keeps every event a file holds, once, at the time its author meant: events
without a UID are events all the same, a rescheduled event is its latest version, a holiday
feed's empty RRULE is no recurrence, a zone named the way Windows displays it is that zone, and
a file of several VCALENDARs holds all their events. What no reader can expand is counted, not
silently lost.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import FR, MO, WEEKLY, rrule

from integrations.base import RemoteEvent, Window
from integrations.ical import ICalendarError, ParsedEvents, parse_calendar, read_events

CORPUS = Path(__file__).parent
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def read(name: str, window: Window) -> ParsedEvents:
    return read_events(parse_calendar((CORPUS / name).read_bytes()), window)


def spans(events: list[RemoteEvent], title: str | None = None) -> list[tuple[datetime, datetime]]:
    return sorted((e.start, e.end) for e in events if title is None or e.title == title)


def day(value: date) -> datetime:
    return datetime.combine(value, datetime.min.time(), tzinfo=UTC)


# Events without UIDs ------------------------------------------------------------------------


def test_a_festival_programme_without_uids_keeps_every_event():
    window = Window(utc(2011, 8, 1), utc(2013, 3, 1))
    text = (CORPUS / "festival_programme_without_uids.ics").read_text()
    one_offs = text.count("BEGIN:VEVENT") - text.count("\nRRULE:")
    # The one series: Mondays and Fridays every fifth week, from its first start (a Thursday,
    # which counts as the first instance) until the end of January 2013.
    first = datetime(2011, 8, 4, 12)
    series = [first] + [
        moment
        for moment in rrule(
            WEEKLY,
            interval=5,
            byweekday=(MO, FR),
            dtstart=first,
            until=datetime(2013, 1, 30, 23),
        )
        if moment != first
    ]

    parsed = read("festival_programme_without_uids.ics", window)

    assert (one_offs, len(series)) == (127, 32)
    assert len(parsed.events) == one_offs + len(series)
    assert len({event.id for event in parsed.events}) == len(parsed.events)
    # Seven one-off events open the festival at the series' first start.
    assert sum(event.start == utc(2011, 8, 4, 12) for event in parsed.events) == 8
    assert parsed.skipped == 0


def test_an_exchange_export_without_uids_keeps_a_one_off_and_a_series_sharing_a_start():
    parsed = read("exchange_owa_without_uids.ics", Window(utc(2025, 3, 1), utc(2025, 8, 1)))

    mondays = [datetime(2025, 3, 3, 9, tzinfo=BERLIN) + timedelta(weeks=n) for n in range(19)]
    assert spans(parsed.events, "Team meeting") == [
        (monday.astimezone(UTC), (monday + timedelta(hours=1)).astimezone(UTC))
        for monday in mondays
    ]
    assert spans(parsed.events, "Quarterly review") == [
        (utc(2025, 3, 3, 8), utc(2025, 3, 3, 10, 30))
    ]
    assert spans(parsed.events, "Lunch with Ana") == [
        (utc(2025, 3, 5, 11, 30), utc(2025, 3, 5, 12, 30))
    ]
    assert len(parsed.events) == 21


def test_events_without_uids_keep_their_ids_whatever_their_order_in_the_file():
    window = Window(utc(2011, 8, 1), utc(2013, 3, 1))
    calendar = parse_calendar((CORPUS / "festival_programme_without_uids.ics").read_bytes())
    shuffled = parse_calendar((CORPUS / "festival_programme_without_uids.ics").read_bytes())
    random.Random(7).shuffle(shuffled.subcomponents)

    before, after = read_events(calendar, window), read_events(shuffled, window)

    assert {event.id for event in before.events} == {event.id for event in after.events}


def test_a_reused_uid_keeps_events_whose_starts_are_written_alike_but_are_not_the_same_times():
    def vevent(*lines: str) -> str:
        return "BEGIN:VEVENT\r\nUID:reused\r\nDTSTAMP:20250301T000000Z\r\n" + "".join(
            f"{line}\r\n" for line in (*lines, "END:VEVENT")
        )

    data = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
        + vevent("DTSTART;TZID=Europe/Berlin:20250303T090000", "DURATION:PT1H")
        + vevent(
            "DTSTART;TZID=Europe/Berlin:20250303T090000",
            "DURATION:PT1H",
            "RRULE:FREQ=WEEKLY;COUNT=3",
        )
        + vevent("DTSTART;TZID=America/New_York:20250303T090000", "DURATION:PT1H")
        + "END:VCALENDAR\r\n"
    )

    parsed = read_events(parse_calendar(data), Window(utc(2025, 3, 1), utc(2025, 4, 1)))

    assert sorted(e.start for e in parsed.events) == [
        utc(2025, 3, 3, 8),  # the one-off in Berlin
        utc(2025, 3, 3, 8),  # the series' first instance
        utc(2025, 3, 3, 14),  # the one-off in New York
        utc(2025, 3, 10, 8),
        utc(2025, 3, 17, 8),
    ]
    assert len({e.id for e in parsed.events}) == 5


# Empty recurrence rules -----------------------------------------------------------------------


def test_a_calendarlabs_holiday_feed_with_empty_rrules_reads_each_holiday_once():
    text = (CORPUS / "calendarlabs_germany_holidays.ics").read_text()
    holidays = [date.fromisoformat(found) for found in re.findall(r"^DTSTART:(\d{8})", text, re.M)]

    parsed = read("calendarlabs_germany_holidays.ics", Window(utc(2019, 1, 1), utc(2021, 1, 1)))

    assert len(holidays) == 34
    assert spans(parsed.events) == [(day(d), day(d) + timedelta(days=1)) for d in sorted(holidays)]
    assert all(event.all_day for event in parsed.events)
    assert parsed.skipped == 0


# Rescheduled events ---------------------------------------------------------------------------


def test_only_the_latest_version_of_a_rescheduled_event_is_kept():
    parsed = read("rescheduled_event_sequences.ics", Window(utc(2025, 3, 1), utc(2025, 4, 1)))

    # The highest SEQUENCE wins, wherever it stands in the file.
    assert spans(parsed.events, "Dentist") == [(utc(2025, 3, 12, 15), utc(2025, 3, 12, 16))]
    # Between equal SEQUENCEs, the later DTSTAMP.
    assert spans(parsed.events, "Haircut") == [(utc(2025, 3, 14, 17), utc(2025, 3, 14, 17, 30))]
    # A recurring series moved to another weekday: only its new instances.
    assert spans(parsed.events, "Yoga") == [
        (utc(2025, 3, day_of_month, 18), utc(2025, 3, day_of_month, 19))
        for day_of_month in (5, 12, 19, 26)
    ]
    assert len(parsed.events) == 6


# Zones ----------------------------------------------------------------------------------------


def test_exchange_zones_named_as_windows_displays_them_are_read_in_that_zone():
    parsed = read(
        "exchange_display_name_zones_without_vtimezone.ics",
        Window(utc(2025, 3, 1), utc(2025, 8, 1)),
    )

    # 10:00 in New York, on daylight time since 9 March.
    assert spans(parsed.events, "Call with the New York office") == [
        (utc(2025, 3, 11, 14), utc(2025, 3, 11, 15))
    ]
    # 09:00 in Berlin in summer.
    assert spans(parsed.events, "Board meeting") == [(utc(2025, 7, 1, 7), utc(2025, 7, 1, 8))]
    # 08:00 in Sydney, whose daylight time ends on 6 April: an older Windows name ("GMT").
    assert spans(parsed.events, "Weekly sync with Sydney") == [
        (utc(2025, 3, 31, 21), utc(2025, 3, 31, 22)),
        (utc(2025, 4, 7, 22), utc(2025, 4, 7, 23)),
        (utc(2025, 4, 14, 22), utc(2025, 4, 14, 23)),
    ]


def test_an_exchange_zone_named_for_display_keeps_its_own_definition():
    parsed = read("exchange_2010_display_name_zone.ics", Window(utc(2019, 4, 1), utc(2019, 6, 1)))

    assert spans(parsed.events) == [(utc(2019, 4, 30, 2), utc(2019, 4, 30, 5))]


def test_a_mozilla_export_of_several_vcalendars_reads_the_events_of_them_all():
    parsed = read("mozilla_several_vcalendars.ics", Window(utc(2003, 1, 1), utc(2004, 1, 1)))

    assert sorted((e.start, e.end, e.title) for e in parsed.events) == [
        (utc(2003, 5, 1), utc(2003, 5, 2), "Boxing Day"),
        (utc(2003, 12, 25), utc(2003, 12, 26), "Christmas Day"),
        (utc(2003, 12, 25), utc(2003, 12, 26), "Christmas again!"),
    ]


def test_a_file_of_several_vcalendars_is_still_refused_when_something_else_follows():
    text = (CORPUS / "mozilla_several_vcalendars.ics").read_text()
    stray_event = "BEGIN:VEVENT\r\nUID:stray\r\nDTSTART:20030101T100000Z\r\nEND:VEVENT\r\n"

    with pytest.raises(ICalendarError):
        parse_calendar(text + stray_event)


# What the expansion library rejects -----------------------------------------------------------


def test_a_synology_duration_in_weeks_is_read_as_weeks():
    parsed = read("synology_duration_in_weeks.ics", Window(utc(2025, 5, 1), utc(2025, 9, 1)))

    assert spans(parsed.events, "Summer camp week") == [
        (utc(2025, month, 2), utc(2025, month, 9)) for month in (6, 7, 8)
    ]
    assert spans(parsed.events, "Trade fair") == [(utc(2025, 6, 4, 8), utc(2025, 6, 6, 8))]
    assert parsed.skipped == 0


def test_a_google_birthday_with_a_date_written_in_utc_is_read_every_year():
    parsed = read(
        "google_birthday_rdate_of_a_date_in_utc.ics", Window(utc(2024, 1, 1), utc(2026, 1, 1))
    )

    assert spans(parsed.events) == [
        (utc(2024, 12, 10), utc(2024, 12, 11)),
        (utc(2025, 12, 10), utc(2025, 12, 11)),
    ]
    assert parsed.skipped == 0


def test_an_outlook_zone_that_swallowed_its_time_gives_the_time_back():
    parsed = read("outlook_zone_holding_its_time.ics", Window(utc(2020, 6, 1), utc(2020, 7, 15)))

    # Tuesdays at 09:00 in Berlin (summer time), the 16th excluded.
    assert spans(parsed.events) == [
        (utc(2020, 6, day_of_month, 7), utc(2020, 6, day_of_month, 8))
        for day_of_month in (9, 23, 30)
    ]
    assert parsed.skipped == 0


def test_a_series_no_reader_can_expand_is_counted_and_the_rest_is_read():
    parsed = read("series_no_reader_can_expand.ics", Window(utc(2025, 3, 1), utc(2025, 4, 1)))

    assert [(e.title, e.start) for e in parsed.events] == [("Readable", utc(2025, 3, 11, 9))]
    assert parsed.skipped == 1
