"""Inputs ``bench/fuzz_ics.py`` found that broke the iCalendar reading path, each cut down to
what triggers it.

The contract they hold: ``parse_calendar`` + ``read_events`` either read events (counting the
malformed ones as skipped) or raise ``ICalendarError``, and never spend more than a moment on
what a hostile feed can write in a few lines.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr

from integrations import ical
from integrations.base import Window
from integrations.ical import (
    MAX_CALENDAR_BYTES,
    MAX_INSTANCES,
    ICalendarError,
    parse_calendar,
    read_events,
)

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
# The widest window a sync reads: 30 days back, 365 ahead.
WINDOW = Window(NOW - timedelta(days=30), NOW + timedelta(days=365))
# Generous for a shared test machine; each of these took from seconds to forever before its fix.
QUICK = 0.5


def ics(*lines: str) -> bytes:
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Fuzz//EN", *lines, "END:VCALENDAR"]
    return ("\r\n".join(body) + "\r\n").encode()


def event(uid: str, *lines: str, start: str = "DTSTART:20250303T090000Z") -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20250301T100000Z", start, *lines, "END:VEVENT"]


def read(data: bytes):
    return read_events(parse_calendar(data), WINDOW)


def timed(data: bytes):
    began = time.process_time()
    try:
        return read(data), time.process_time() - began
    except ICalendarError as error:
        return error, time.process_time() - began


# Parsing ------------------------------------------------------------------------------------------


def test_a_time_zone_with_two_ids_is_a_clean_parse_error():
    # icalendar's time zone cache called .strip() on the list of both ids: AttributeError.
    data = ics(
        "BEGIN:VTIMEZONE",
        "TZID:Zone A",
        "TZID:Zone B",
        "BEGIN:STANDARD",
        "DTSTART:19701025T030000",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "END:STANDARD",
        "END:VTIMEZONE",
        *event("a"),
    )

    with pytest.raises(ICalendarError):
        parse_calendar(data)


def test_a_time_zone_id_too_long_for_the_file_system_is_a_clean_parse_error():
    # icalendar looks the id up as a file of the tz database: OSError "File name too long".
    data = ics(*event("a", start=f"DTSTART;TZID={'z' * 400}:20250303T090000"))

    with pytest.raises(ICalendarError):
        parse_calendar(data)


def test_components_nested_deeper_than_any_real_file_are_refused():
    # icalendar walks components recursively: RecursionError in every later step.
    data = ics(*["BEGIN:X-NESTED"] * 2000, *["END:X-NESTED"] * 2000, *event("a"))

    with pytest.raises(ICalendarError, match="nested too deeply"):
        parse_calendar(data)


def test_a_begin_with_spaces_in_its_name_still_counts_towards_the_depth():
    # icalendar reads "B E G I N" as BEGIN (it ignores spaces and tabs in names).
    data = ics(*["B E G I N:X-NESTED"] * 2000, *["END:X-NESTED"] * 2000, *event("a"))

    with pytest.raises(ICalendarError, match="nested too deeply"):
        parse_calendar(data)


def test_a_file_larger_than_any_feed_is_refused_before_parsing():
    # Thirty megabytes of one long value took over 256 MB to parse (a CalDAV server may send that
    # much; iCal links are cut off at ten).
    data = ics(*event("big", "DESCRIPTION:" + "x" * (MAX_CALENDAR_BYTES + 1)))

    outcome, seconds = timed(data)

    assert isinstance(outcome, ICalendarError)
    assert "too large" in str(outcome)
    assert seconds < QUICK


def time_zone(tzid: str, rule: str) -> list[str]:
    return [
        "BEGIN:VTIMEZONE",
        f"TZID:{tzid}",
        "BEGIN:STANDARD",
        "DTSTART:16010101T030000",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        f"RRULE:{rule}",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:16010101T020000",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    ]


def test_a_time_zone_changing_every_second_is_refused_before_icalendar_caches_it():
    # dateutil searched every second since 1601 for each offset lookup; and icalendar keeps the
    # first definition of a TZID for the whole process, so every later feed naming it hung too.
    tzid = "Fuzz Custom Zone 1"
    hostile = ics(
        *time_zone(tzid, "FREQ=SECONDLY"),
        *event(
            "a",
            "DTEND;TZID=Fuzz Custom Zone 1:20250303T100000",
            start=f"DTSTART;TZID={tzid}:20250303T090000",
        ),
    )
    legitimate = ics(
        *time_zone(tzid, "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"),
        *event(
            "b",
            "DTEND;TZID=Fuzz Custom Zone 1:20250303T100000",
            start=f"DTSTART;TZID={tzid}:20250303T090000",
        ),
    )

    outcome, seconds = timed(hostile)
    assert isinstance(outcome, ICalendarError)
    assert seconds < QUICK

    parsed, seconds = timed(legitimate)
    (read_back,) = parsed.events
    assert read_back.start == datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    assert seconds < QUICK


@pytest.mark.parametrize("rule", ["FREQ=DAILY", "FREQ=YEARLY;BYHOUR=1,2,3"])
def test_a_time_zone_observance_other_than_yearly_at_one_time_is_refused(rule):
    data = ics(*time_zone("Fuzz Custom Zone 2", rule), *event("a"))

    with pytest.raises(ICalendarError, match="time zone"):
        parse_calendar(data)


# Recurring series ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY",  # millions of instances in the window
        "FREQ=MINUTELY;COUNT=100000000",
        "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12;BYMINUTE=0,15,30,45",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # never matches: dateutil searched to the year 9999
        "FREQ=WEEKLY;BYMONTHDAY=31;BYMONTH=2",
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=10",
        "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # every 7th day from a Monday is a Monday
    ],
)
def test_a_series_whose_expansion_is_unbounded_is_skipped_at_once(rule):
    data = ics(*event("runaway", f"RRULE:{rule}", start="DTSTART:20250303T090000Z"), *event("kept"))

    parsed, seconds = timed(data)

    assert [e.id for e in parsed.events] == ["kept"]
    assert parsed.skipped == 1
    assert seconds < QUICK


def test_copies_of_a_series_that_never_occurs_are_searched_once():
    # 101 copies of one monthly rule that never matches took four seconds: one search each.
    never = event(
        "never", "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4", start="DTSTART:20250303T090000Z"
    )
    data = ics(*never * 100, *event("kept"))

    parsed, seconds = timed(data)

    assert [e.id for e in parsed.events] == ["kept"]
    assert parsed.skipped == 100
    assert seconds < QUICK


def test_many_different_series_that_never_occur_are_a_clean_error(monkeypatch):
    data = ics(
        *(
            line
            for day in range(1, 29)
            for line in event(
                f"never-{day}",
                "RRULE:FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2",
                start=f"DTSTART:202503{day:02d}T090000Z",
            )
        )
    )
    # What the read costs, counted instead of timed (a busy machine makes any clock slow): each
    # probe of dateutil, and where it starts its search for a first match.
    probes: list[datetime] = []

    def counted_rrulestr(text: str, **options):
        probes.append(options["dtstart"])
        return rrulestr(text, **options)

    monkeypatch.setattr(ical, "rrulestr", counted_rrulestr)

    with pytest.raises(ICalendarError, match="never occur"):
        read(data)

    # The read gives up at the first series too many, not after all 28.
    assert len(probes) == ical._MAX_EMPTY_SERIES + 1
    # Each search starts within two 400-year cycles of the year 9999, where dateutil gives up
    # after some thousands of months, not eight thousand years of them.
    assert all(start.year > datetime.max.year - 2 * 400 for start in probes)


def test_a_rule_that_icalendar_cannot_write_back_skips_its_series():
    # UNTIL=202506 reads as a time of day, which vRecur.to_ical could not join: TypeError.
    data = ics(
        *event(
            "broken", "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=202506", start="DTSTART:20250303T090000Z"
        ),
        *event("kept"),
    )

    parsed = read(data)

    assert [e.id for e in parsed.events] == ["kept"]
    assert parsed.skipped == 1


def test_a_daily_series_starting_centuries_ago_is_skipped():
    data = ics(*event("old", "RRULE:FREQ=DAILY", start="DTSTART:15000101T090000Z"), *event("kept"))

    parsed, seconds = timed(data)

    assert [e.id for e in parsed.events] == ["kept"]
    assert parsed.skipped == 1
    assert seconds < QUICK


@pytest.mark.parametrize(
    ("rule", "start", "count"),
    [
        ("FREQ=MONTHLY;BYDAY=-1FR", "DTSTART:20250328T150000Z", 12),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "DTSTART:20250331T160000Z", 12),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "DTSTART;VALUE=DATE:19960229", 0),
        ("FREQ=YEARLY", "DTSTART;VALUE=DATE:19500312", 1),  # a birthday
        ("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "DTSTART:20000229T090000Z", 0),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", "DTSTART:20250303T090000Z", 52),
        ("FREQ=DAILY;INTERVAL=7;BYDAY=MO", "DTSTART:20250303T090000Z", 52),
    ],
)
def test_series_that_do_recur_are_still_read(rule, start, count):
    data = ics(*event("series", f"RRULE:{rule}", start=start))

    parsed = read(data)

    assert len(parsed.events) == count
    assert parsed.skipped == 0


def test_more_instances_than_a_read_allows_is_a_clean_error_before_any_is_copied():
    # 300 copies of a daily series without a UID expanded to 36,000 events, copied one by one.
    series = [
        "BEGIN:VEVENT",
        "DTSTART:20250303T090000Z",
        "DTEND:20250303T093000Z",
        "RRULE:FREQ=DAILY",
        "END:VEVENT",
    ]
    data = ics(*series * (MAX_INSTANCES // 300 + 1))

    outcome, seconds = timed(data)

    assert isinstance(outcome, ICalendarError)
    assert f"more than {MAX_INSTANCES:,} events" in str(outcome)
    assert seconds < 2 * QUICK


def test_a_recurrence_rule_icalendar_could_not_read_skips_its_series():
    data = ics(
        *event("broken", "RRULE;VALUE=DATE:FREQ=YEARLY", start="DTSTART:20250303T090000Z"),
        *event("kept"),
    )

    parsed = read(data)

    assert [e.id for e in parsed.events] == ["kept"]
    assert parsed.skipped == 1


def test_a_series_starting_at_the_edge_of_time_is_skipped():
    data = ics(
        *event("edge", "RRULE:FREQ=YEARLY", start="DTSTART;TZID=Asia/Tokyo:00010101T000000"),
        *event("kept"),
    )

    parsed = read(data)

    assert [e.id for e in parsed.events] == ["kept"]


# Dates at the end of time -------------------------------------------------------------------------


def test_a_moved_instance_ending_after_the_year_9999_in_utc_is_skipped():
    # Its floating end, in the feed's zone and then moved to UTC, overflowed the datetime range in
    # the middle of reading.
    data = ics(
        "X-WR-TIMEZONE:America/New_York",
        *event(
            "s",
            "RRULE:FREQ=DAILY;COUNT=5",
            "DTEND:20250303T100000",
            start="DTSTART:20250303T090000",
        ),
        *event(
            "s",
            "RECURRENCE-ID:20250304T090000",
            "DTEND:99991231T235959",
            start="DTSTART:20250304T100000",
        ),
    )

    parsed = read(data)

    assert len(parsed.events) == 4
    assert parsed.skipped == 1


def test_a_date_that_the_feeds_zone_cannot_hold_is_a_clean_error():
    # X-WR-TIMEZONE conversion moved 9999-12-31 23:59 UTC past the end of the calendar.
    data = ics("X-WR-TIMEZONE:Asia/Tokyo", *event("late", start="DTSTART:99991231T235959Z"))

    with pytest.raises(ICalendarError):
        read(data)


def test_reused_uids_with_a_period_ending_past_the_year_9999_are_left_alone():
    # Splitting reused UIDs writes each start back out, which overflowed for this period.
    data = ics(
        *event("same", start="DTSTART:20250303T090000Z"),
        *event("same", start="DTSTART:20250301T120000Z/P99999999D"),
        *event("kept", start="DTSTART:20250305T090000Z"),
    )

    assert [e.id for e in read(data).events] == ["same", "kept"]


def test_reused_uids_with_a_start_read_as_a_time_of_day_skip_that_one_and_count_it():
    # Written back out, a time of day came back as a str, not bytes: AttributeError.
    data = ics(
        *event("same", start="DTSTART:20250304T090000Z"),
        *event("same", start="DTSTART:202503"),
    )

    parsed = read(data)

    assert [e.start for e in parsed.events] == [datetime(2025, 3, 4, 9, tzinfo=UTC)]
    assert parsed.skipped == 1


@pytest.mark.parametrize(
    "zone_lines",
    [
        ["X-WR-TIMEZONE:" + "x" * 400],  # too long for the file system
        ["X-WR-TIMEZONE:" + "a/" * 300 + "b"],  # nested too deeply for the tz database's reader
        # Given twice: a list, whose text is too long a name.
        ["X-WR-TIMEZONE:W. Europe Standard Time"] * 20,
    ],
)
def test_an_x_wr_timezone_that_is_not_a_zone_name_is_ignored(zone_lines):
    data = ics(
        *zone_lines, *event("floating", "DTEND:20250303T100000", start="DTSTART:20250303T090000")
    )

    (floating,) = read(data).events

    assert floating.start == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def _custom_zone_feed(offset: str, uid: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\n"
        f"BEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\n"
        f"TZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        "DTSTART;TZID=Customized Time Zone:20250310T090000\r\n"
        "DTEND;TZID=Customized Time Zone:20250310T100000\r\nSUMMARY:x\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_two_feeds_with_different_definitions_of_one_custom_zone_name_keep_their_own():
    window = Window(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    tokyo = read_events(parse_calendar(_custom_zone_feed("+0900", "a")), window).events
    new_york = read_events(parse_calendar(_custom_zone_feed("-0500", "b")), window).events
    tokyo_again = read_events(parse_calendar(_custom_zone_feed("+0900", "c")), window).events

    assert tokyo[0].start == datetime(2025, 3, 10, 0, tzinfo=UTC)
    assert new_york[0].start == datetime(2025, 3, 10, 14, tzinfo=UTC)
    assert tokyo_again[0].start == datetime(2025, 3, 10, 0, tzinfo=UTC)


def test_a_known_zone_keeps_its_name_and_the_time_zone_database():
    feed = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"
        b"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
        b"TZOFFSETFROM:+0500\r\nTZOFFSETTO:+0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        b"BEGIN:VEVENT\r\nUID:k\r\nDTSTAMP:20250101T000000Z\r\n"
        b"DTSTART;TZID=Europe/Berlin:20250310T090000\r\n"
        b"DTEND;TZID=Europe/Berlin:20250310T100000\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    window = Window(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    (event,) = read_events(parse_calendar(feed), window).events
    assert event.start == datetime(2025, 3, 10, 8, tzinfo=UTC)  # CET, not the file's +05:00
