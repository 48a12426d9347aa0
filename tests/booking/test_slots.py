"""Slot computation as a pure function: hours, grid, buffers, caps and the owner's zone, DST included.

Every expected list is worked out by hand; comments give the owner's wall-clock times.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.slots import Availability, Refusal, available_slots, slots_by_day, start_refusal
from integrations.base import Interval, Window

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
TOKYO = ZoneInfo("Asia/Tokyo")
ST_JOHNS = ZoneInfo("America/St_Johns")

MONDAY = date(2026, 6, 1)  # Berlin is on CEST (UTC+2) all week
MONDAY_MORNING = datetime(2026, 6, 1, 5, tzinfo=UTC)  # 07:00 in Berlin
EVERY_DAY = range(1, 8)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def hours(*spans: str) -> list[tuple[int, int]]:
    """``hours("09:00-12:00", "13:00-24:00")`` as minutes from midnight."""

    def minute(clock: str) -> int:
        hour, minute = clock.split(":")
        return int(hour) * 60 + int(minute)

    return [(minute(span[:5]), minute(span[6:])) for span in spans]


def availability(
    zone: ZoneInfo = BERLIN,
    *,
    weekly: dict[int, list[tuple[int, int]]] | None = None,
    on: dict[date, list[tuple[int, int]]] | None = None,
    **settings,
) -> Availability:
    return Availability(
        time_zone=zone, weekly_hours=weekly or {}, date_overrides=on or {}, **settings
    )


def offered(
    page: Availability,
    *,
    now: datetime = MONDAY_MORNING,
    length: int = 30,
    busy: Iterable[Interval] = (),
    bookings: Iterable[Interval] = (),
    **options,
) -> list[datetime]:
    return available_slots(
        page, duration=minutes(length), now=now, busy=busy, bookings=bookings, **options
    )


def span(start: datetime, length: int) -> Interval:
    return Interval(start, start + minutes(length))


# The grid, the hours and the owner's days


def test_slots_step_by_the_increment_through_each_interval_of_the_day() -> None:
    page = availability(on={MONDAY: hours("09:00-10:30", "14:00-15:00")}, horizon_days=1)

    slots = offered(page)

    # 09:00 09:30 10:00 | 14:00 14:30 (10:30 and 15:00 would end after the interval)
    assert slots == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 30),
        utc(2026, 6, 1, 8),
        utc(2026, 6, 1, 12),
        utc(2026, 6, 1, 12, 30),
    ]
    assert all(slot.tzinfo is UTC for slot in slots)


def test_a_45_minute_meeting_steps_on_a_15_minute_grid_from_the_interval_start() -> None:
    page = availability(on={MONDAY: hours("09:10-10:30")}, increment=minutes(15))

    # 09:10 09:25 09:40 (ends 10:25); 09:55 would end at 10:40
    assert offered(page, length=45) == [
        utc(2026, 6, 1, 7, 10),
        utc(2026, 6, 1, 7, 25),
        utc(2026, 6, 1, 7, 40),
    ]


def test_overlapping_hours_given_in_any_order_offer_each_start_once_in_order() -> None:
    page = availability(
        weekly={1: hours("13:00-14:00", "09:00-10:00", "09:30-10:30")}, horizon_days=1
    )

    # 09:00 09:30 10:00 13:00 13:30: 09:30 starts in two intervals and is offered once
    assert offered(page) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 30),
        utc(2026, 6, 1, 8),
        utc(2026, 6, 1, 11),
        utc(2026, 6, 1, 11, 30),
    ]


def test_the_horizon_counts_owner_local_days_from_the_owners_today() -> None:
    page = availability(weekly={day: hours("09:00-10:00") for day in EVERY_DAY}, horizon_days=3)

    # Monday 22:30 UTC is already Tuesday 00:30 in Berlin: Tuesday, Wednesday, Thursday at 09:00.
    assert offered(page, now=utc(2026, 6, 1, 22, 30), length=60) == [
        utc(2026, 6, 2, 7),
        utc(2026, 6, 3, 7),
        utc(2026, 6, 4, 7),
    ]


def test_a_slot_at_exactly_now_plus_the_minimum_notice_is_the_first_one_offered() -> None:
    page = availability(on={MONDAY: hours("09:00-12:00")}, minimum_notice=timedelta(hours=1))

    # Now is 08:30, so nothing before 09:30: 09:30 10:00 10:30 11:00
    assert offered(page, now=utc(2026, 6, 1, 6, 30), length=60) == [
        utc(2026, 6, 1, 7, 30),
        utc(2026, 6, 1, 8),
        utc(2026, 6, 1, 8, 30),
        utc(2026, 6, 1, 9),
    ]


def test_a_date_override_replaces_its_weekdays_hours_and_one_without_hours_is_a_day_off() -> None:
    page = availability(
        weekly={day: hours("09:00-10:00") for day in range(1, 6)},
        on={
            date(2026, 6, 2): hours("14:00-15:00"),  # Tuesday: afternoon instead
            date(2026, 6, 3): [],  # Wednesday: day off
            date(2026, 6, 6): hours("10:00-11:00"),  # Saturday: open although a weekend
        },
        horizon_days=7,
    )

    assert offered(page, length=60) == [
        utc(2026, 6, 1, 7),  # Monday 09:00
        utc(2026, 6, 2, 12),  # Tuesday 14:00
        utc(2026, 6, 4, 7),  # Thursday 09:00
        utc(2026, 6, 5, 7),  # Friday 09:00
        utc(2026, 6, 6, 8),  # Saturday 10:00
    ]


def test_the_daily_cap_counts_this_pages_bookings_by_owner_local_day() -> None:
    page = availability(
        weekly={day: hours("09:00-11:00") for day in EVERY_DAY},
        horizon_days=3,
        increment=minutes(60),
        max_per_day=2,
    )
    # Both on Tuesday in Berlin (00:30 and 12:00), though on two different days in UTC.
    booked = [utc(2026, 6, 1, 22, 30), utc(2026, 6, 2, 10)]

    assert offered(page, length=60, booked_starts=booked) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 8),
        utc(2026, 6, 3, 7),
        utc(2026, 6, 3, 8),
    ]


def test_a_day_under_its_cap_stays_open() -> None:
    page = availability(on={MONDAY: hours("09:00-10:00")}, max_per_day=2)

    assert offered(page, booked_starts=[utc(2026, 6, 1, 12)]) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 30),
    ]


def test_a_window_keeps_only_the_starts_inside_it() -> None:
    page = availability(
        weekly={day: hours("09:00-11:00") for day in EVERY_DAY}, increment=minutes(60)
    )
    window = Window(utc(2026, 6, 2, 8), utc(2026, 6, 3, 7))

    # Tuesday 09:00 is before the window, Tuesday 10:00 its first instant, Wednesday 09:00 its end.
    assert offered(page, length=60, window=window) == [utc(2026, 6, 2, 8)]


def test_a_meeting_never_runs_from_one_days_hours_into_the_next_days() -> None:
    page = availability(weekly={1: hours("22:00-24:00"), 2: hours("00:00-02:00")}, horizon_days=2)

    # Monday 22:00 22:30 23:00 (ends at midnight, the end of 24:00); 23:30 would need Tuesday's
    # hours too. Tuesday 00:00 00:30 01:00.
    assert offered(page, length=60) == [
        utc(2026, 6, 1, 20),
        utc(2026, 6, 1, 20, 30),
        utc(2026, 6, 1, 21),
        utc(2026, 6, 1, 22),
        utc(2026, 6, 1, 22, 30),
        utc(2026, 6, 1, 23),
    ]


def test_hours_outside_a_day_or_empty_are_refused() -> None:
    with pytest.raises(ValueError):
        availability(weekly={1: [(600, 1500)]})
    with pytest.raises(ValueError):
        availability(on={MONDAY: [(600, 600)]})
    with pytest.raises(ValueError):
        availability(weekly={0: hours("09:00-10:00")})


def test_a_meeting_without_length_is_refused() -> None:
    with pytest.raises(ValueError):
        offered(availability(on={MONDAY: hours("09:00-10:00")}), length=0)


# Busy time, bookings and buffers


def test_busy_time_blocks_the_slots_it_overlaps_and_touching_it_is_fine() -> None:
    page = availability(on={MONDAY: hours("09:00-12:00")})

    # Busy 10:00-10:30: 09:30 ends as it starts and 10:30 starts as it ends.
    assert offered(page, busy=[span(utc(2026, 6, 1, 8), 30)]) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 30),
        utc(2026, 6, 1, 8, 30),
        utc(2026, 6, 1, 9),
        utc(2026, 6, 1, 9, 30),
    ]


def test_unmerged_overlapping_busy_spans_from_several_calendars_block_their_union() -> None:
    page = availability(on={MONDAY: hours("09:00-12:00")})
    busy = [
        span(utc(2026, 6, 1, 9), 0),  # 11:00, empty
        span(utc(2026, 6, 1, 8), 45),  # 10:00-10:45
        span(utc(2026, 6, 1, 7, 30), 45),  # 09:30-10:15
        span(utc(2026, 6, 1, 8), 45),  # the same event in a second calendar
    ]

    # Busy 09:30-10:45: 09:00, then 11:00 and 11:30.
    assert offered(page, busy=busy) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 9),
        utc(2026, 6, 1, 9, 30),
    ]


BUFFERED = {
    "on": {MONDAY: hours("09:00-12:00")},
    "buffer_before": minutes(10),
    "buffer_after": minutes(20),
    "increment": minutes(10),
}


def test_buffers_keep_free_time_between_a_slot_and_busy_time() -> None:
    page = availability(**BUFFERED)

    # Busy 10:30-11:00. Before it a slot needs its 20 minutes after: the last ends 10:10 (09:40).
    # After it a slot needs its 10 minutes before: the first starts 11:10.
    assert offered(page, busy=[span(utc(2026, 6, 1, 8, 30), 30)]) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 10),
        utc(2026, 6, 1, 7, 20),
        utc(2026, 6, 1, 7, 30),
        utc(2026, 6, 1, 7, 40),
        utc(2026, 6, 1, 9, 10),
        utc(2026, 6, 1, 9, 20),
        utc(2026, 6, 1, 9, 30),
    ]


def test_a_booking_keeps_the_larger_buffer_on_both_sides_not_the_sum() -> None:
    page = availability(**BUFFERED)

    # A booking 10:30-11:00 has the same buffers: 10 minutes before it and 20 after. The slot's own
    # 20 after and the booking's 10 before share free time: 20 minutes before it (last slot 09:40,
    # as with busy time); and after it the booking's 20 minutes, more than the slot's own 10: the
    # first slot starts 11:20, not 11:10 (busy time) nor 11:30 (buffers added up).
    assert offered(page, bookings=[span(utc(2026, 6, 1, 8, 30), 30)]) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 10),
        utc(2026, 6, 1, 7, 20),
        utc(2026, 6, 1, 7, 30),
        utc(2026, 6, 1, 7, 40),
        utc(2026, 6, 1, 9, 20),
        utc(2026, 6, 1, 9, 30),
    ]


def test_an_empty_busy_span_blocks_nothing_even_with_buffers() -> None:
    page = availability(
        on={MONDAY: hours("09:00-10:00")}, buffer_before=minutes(15), buffer_after=minutes(15)
    )

    assert offered(page, busy=[span(utc(2026, 6, 1, 7, 30), 0)]) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 1, 7, 30),
    ]


# Zones with odd offsets


def test_kolkatas_half_hour_offset_and_its_own_today() -> None:
    page = availability(KOLKATA, weekly={1: hours("09:00-11:00")}, horizon_days=1)

    # Sunday 19:00 UTC is Monday 00:30 in Kolkata, so today is Monday: 09:00 09:30 10:00 (+05:30).
    assert offered(page, now=utc(2026, 5, 31, 19), length=60) == [
        utc(2026, 6, 1, 3, 30),
        utc(2026, 6, 1, 4),
        utc(2026, 6, 1, 4, 30),
    ]


def test_kathmandus_quarter_hour_offset_with_a_45_minute_meeting_on_a_15_minute_grid() -> None:
    page = availability(KATHMANDU, on={MONDAY: hours("09:00-10:30")}, increment=minutes(15))

    # 09:00 09:15 09:30 09:45 (+05:45)
    assert offered(page, now=utc(2026, 5, 31, 12), length=45) == [
        utc(2026, 6, 1, 3, 15),
        utc(2026, 6, 1, 3, 30),
        utc(2026, 6, 1, 3, 45),
        utc(2026, 6, 1, 4),
    ]


# Europe/Berlin: 29 March 2026 02:00 CET -> 03:00 CEST (01:00 UTC);
# 25 October 2026 03:00 CEST -> 02:00 CET (01:00 UTC), 02:00-03:00 happens twice.

BERLIN_SPRING = date(2026, 3, 29)
BERLIN_AUTUMN = date(2026, 10, 25)


def test_berlin_spring_forward_skips_the_missing_hour() -> None:
    page = availability(on={BERLIN_SPRING: hours("01:00-04:00")})

    # 01:00 01:30 CET, 02:00 and 02:30 do not exist, 03:00 03:30 CEST: two real hours, four slots.
    assert offered(page, now=utc(2026, 3, 28, 12)) == [
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 1, 30),
    ]


def test_berlin_spring_forward_meetings_across_the_change_last_real_time() -> None:
    page = availability(on={BERLIN_SPRING: hours("01:00-04:00")})

    # 01:30 CET to 03:30 CEST is one real hour; 03:30 CEST would end at 04:30, after the hours.
    assert offered(page, now=utc(2026, 3, 28, 12), length=60) == [
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
    ]


def test_berlin_hours_that_end_or_begin_in_the_skipped_hour() -> None:
    page = availability(
        on={BERLIN_SPRING: hours("00:00-02:30", "02:30-05:00")}, increment=minutes(45)
    )

    # 00:00-02:30 ends when the clock jumps to 03:00 CEST: 00:00 00:45 (ends 01:45 CET); an hour
    # from 01:30 CET would end at 03:30 CEST, after the jump.
    # 02:30-05:00 steps from 02:30 on the wall clock: 03:15 04:00 (ends 05:00).
    assert offered(page, now=utc(2026, 3, 28, 12), length=60) == [
        utc(2026, 3, 28, 23),
        utc(2026, 3, 28, 23, 45),
        utc(2026, 3, 29, 1, 15),
        utc(2026, 3, 29, 2),
    ]


def test_berlin_fall_back_offers_each_instant_of_the_repeated_hour_once_in_order() -> None:
    page = availability(on={BERLIN_AUTUMN: hours("01:00-04:00")})

    # 01:00 01:30 CEST, 02:00 02:30 CEST, 02:00 02:30 CET, 03:00 03:30 CET: four real hours.
    assert offered(page, now=utc(2026, 10, 24, 12)) == [
        utc(2026, 10, 24, 23),
        utc(2026, 10, 24, 23, 30),
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1),
        utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 25, 2),
        utc(2026, 10, 25, 2, 30),
    ]


def test_berlin_fall_back_hours_ending_inside_the_repeated_hour_end_the_second_time() -> None:
    page = availability(on={BERLIN_AUTUMN: hours("00:00-02:30")})

    # The hours end at 02:30 CET (01:30 UTC). 02:00 CEST to 02:00 CET is one real hour and fits;
    # 02:00 CET would end at 03:00 CET.
    assert offered(page, now=utc(2026, 10, 24, 12), length=60) == [
        utc(2026, 10, 24, 22),
        utc(2026, 10, 24, 22, 30),
        utc(2026, 10, 24, 23),
        utc(2026, 10, 24, 23, 30),
        utc(2026, 10, 25, 0),
    ]


def test_berlin_fall_back_hours_ending_where_the_hour_repeats_end_the_first_time() -> None:
    page = availability(on={BERLIN_AUTUMN: hours("00:00-02:00")})

    # All of the repeated hour is at or after 02:00, so the hours end at 02:00 CEST (00:00 UTC):
    # 00:00 and 00:30 fit 90 minutes; 01:00 would run past it.
    assert offered(page, now=utc(2026, 10, 24, 12), length=90) == [
        utc(2026, 10, 24, 22),
        utc(2026, 10, 24, 22, 30),
    ]


# America/New_York: 8 March 2026 02:00 EST -> 03:00 EDT (07:00 UTC);
# 1 November 2026 02:00 EDT -> 01:00 EST (06:00 UTC), 01:00-02:00 happens twice.


def test_new_york_spring_forward_meetings_span_the_change_in_real_time() -> None:
    page = availability(NEW_YORK, weekly={7: hours("00:00-05:00")}, horizon_days=2)

    # Four real hours (00:00 EST to 05:00 EDT). 00:00 00:30 01:00 01:30 EST, 03:00 03:30 EDT;
    # 01:30 EST to 04:00 EDT is 90 real minutes. 04:00 EDT would end at 05:30.
    assert offered(page, now=utc(2026, 3, 7, 12), length=90) == [
        utc(2026, 3, 8, 5),
        utc(2026, 3, 8, 5, 30),
        utc(2026, 3, 8, 6),
        utc(2026, 3, 8, 6, 30),
        utc(2026, 3, 8, 7),
        utc(2026, 3, 8, 7, 30),
    ]


def test_new_york_fall_back_meetings_span_the_change_in_real_time() -> None:
    page = availability(NEW_YORK, weekly={7: hours("00:00-03:00")}, horizon_days=2)

    # Four real hours (00:00 EDT to 03:00 EST). 00:00 00:30 EDT, 01:00 01:30 EDT, 01:00 01:30 EST,
    # 02:00 02:30 EST; a 90-minute meeting from 01:30 EST ends at 03:00 EST, later ones after it.
    assert offered(page, now=utc(2026, 10, 31, 12), length=90) == [
        utc(2026, 11, 1, 4),
        utc(2026, 11, 1, 4, 30),
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 6),
        utc(2026, 11, 1, 6, 30),
    ]


def test_new_york_fall_back_checks_each_instant_of_the_repeated_hour_on_its_own() -> None:
    page = availability(
        NEW_YORK, weekly={7: hours("00:00-03:00")}, increment=minutes(60), horizon_days=2
    )
    busy = [span(utc(2026, 11, 1, 5), 60)]  # 01:00-02:00 EDT, the first of the two

    # 00:00 EDT, 01:00 EST (the second 01:00), 02:00 EST
    assert offered(page, now=utc(2026, 10, 31, 12), length=60, busy=busy) == [
        utc(2026, 11, 1, 4),
        utc(2026, 11, 1, 6),
        utc(2026, 11, 1, 7),
    ]


# Australia/Lord_Howe moves by half an hour: 5 April 2026 02:00 (+11:00) -> 01:30 (+10:30),
# 01:30-02:00 happens twice; 4 October 2026 02:00 (+10:30) -> 02:30 (+11:00).


def test_lord_howe_fall_back_repeats_half_an_hour() -> None:
    page = availability(LORD_HOWE, on={date(2026, 4, 5): hours("01:00-03:00")})

    # 01:00 +11, 01:30 +11, 01:30 +10:30, 02:00 02:30 +10:30: two and a half real hours.
    assert offered(page, now=utc(2026, 4, 3, 12)) == [
        utc(2026, 4, 4, 14),
        utc(2026, 4, 4, 14, 30),
        utc(2026, 4, 4, 15),
        utc(2026, 4, 4, 15, 30),
        utc(2026, 4, 4, 16),
    ]


def test_lord_howe_spring_forward_skips_half_an_hour_of_the_grid() -> None:
    page = availability(
        LORD_HOWE, on={date(2026, 10, 4): hours("01:30-03:00")}, increment=minutes(15)
    )

    # 01:30 01:45 +10:30, 02:00 and 02:15 do not exist, 02:30 +11; the hours end at 03:00 +11,
    # so 02:45 would end too late. 01:45 to 02:45 on the clock is 30 real minutes.
    assert offered(page, now=utc(2026, 10, 2, 12)) == [
        utc(2026, 10, 3, 15),
        utc(2026, 10, 3, 15, 15),
        utc(2026, 10, 3, 15, 30),
    ]


# Fall-backs across midnight
# Before 2011 St John's fell back at 00:01 on a Sunday to 23:01 on the Saturday: on 7 November 2010,
# 00:00 NDT (-02:30) is 02:30 UTC, then 23:01-00:01 happen again in NST (-03:30), 02:31-03:31 UTC.
# Sunday's first minutes come before the second run of Saturday's last hour.


def test_a_fall_back_across_midnight_never_offers_a_slot_inside_busy_time() -> None:
    page = availability(ST_JOHNS, weekly={6: hours("00:00-24:00"), 7: hours("00:00-24:00")})
    busy = span(utc(2010, 11, 7, 2, 30), 30)  # Sunday 00:00 NDT to Saturday 23:29 NST

    slots = offered(page, now=utc(2010, 11, 5, 12), busy=[busy])

    assert utc(2010, 11, 7, 2, 30) not in slots  # Sunday 00:00 NDT
    assert [slot for slot in slots if busy.start - minutes(30) < slot < busy.end] == []
    # Saturday 23:30 NDT ends as the busy time starts; Saturday 23:30 NST starts as it ends.
    assert {utc(2010, 11, 7, 2), utc(2010, 11, 7, 3)} <= set(slots)
    assert slots == sorted(set(slots))


def test_a_fall_back_across_midnight_offers_every_instant_once_and_in_time_order() -> None:
    page = availability(
        ST_JOHNS,
        on={date(2010, 11, 6): hours("23:00-24:00"), date(2010, 11, 7): hours("00:00-01:00")},
    )

    # Saturday 23:00 23:30 NDT, Sunday 00:00 NDT, Saturday 23:30 NST, Sunday 00:00 00:30 NST.
    assert offered(page, now=utc(2010, 11, 5, 12)) == [
        utc(2010, 11, 7, 1, 30),
        utc(2010, 11, 7, 2),
        utc(2010, 11, 7, 2, 30),
        utc(2010, 11, 7, 3),
        utc(2010, 11, 7, 3, 30),
        utc(2010, 11, 7, 4),
    ]


# An offer made ahead of the booking


def test_an_offer_lead_pushes_the_earliest_start_but_not_the_owners_today_or_horizon() -> None:
    page = availability(weekly={day: hours("00:00-24:00") for day in EVERY_DAY}, horizon_days=2)
    # Monday 23:54 in Berlin: with six minutes' lead the first time is Tuesday 00:00, and the
    # horizon still ends with Tuesday, as it does for a booking made now.
    slots = offered(page, now=utc(2026, 6, 1, 21, 54), lead=minutes(6))

    assert slots[0] == utc(2026, 6, 1, 22)
    assert slots[-1] == utc(2026, 6, 2, 21, 30)


# Why a start is not offered


def test_a_start_that_is_not_offered_is_refused_for_its_own_reason() -> None:
    page = availability(
        weekly={1: hours("07:00-12:00"), 2: hours("07:00-12:00")},
        minimum_notice=minutes(60),
        horizon_days=7,
        max_per_day=1,
    )

    def why(start: datetime, *, length: int = 30, **options) -> Refusal | None:
        return start_refusal(
            page, start=start, duration=minutes(length), now=MONDAY_MORNING, **options
        )

    # Monday 07:00 in Berlin is now; 08:00 the earliest start.
    assert why(utc(2026, 6, 1, 5, 30)) == Refusal.NOTICE
    assert why(utc(2026, 5, 1, 8)) == Refusal.NOTICE
    assert why(utc(2026, 6, 8, 8)) == Refusal.HORIZON
    assert why(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)) == Refusal.HORIZON
    assert why(utc(2026, 6, 1, 11)) == Refusal.HOURS  # 13:00
    assert why(utc(2026, 6, 1, 9, 30), length=60) == Refusal.HOURS  # 11:30 to 12:30
    assert why(utc(2026, 6, 3, 8)) == Refusal.HOURS  # Wednesday
    assert why(utc(2026, 6, 1, 8, 10)) == Refusal.GRID  # 10:10
    assert why(utc(2026, 6, 1, 8), booked_starts=[utc(2026, 6, 1, 6)]) == Refusal.FULL
    assert why(utc(2026, 6, 1, 8), busy=[span(utc(2026, 6, 1, 8, 15), 30)]) == Refusal.TAKEN
    assert why(utc(2026, 6, 1, 8), bookings=[span(utc(2026, 6, 1, 7, 45), 30)]) == Refusal.TAKEN
    assert why(utc(2026, 6, 1, 8)) is None


# The month view


def test_slots_late_in_the_owners_day_fall_on_the_attendees_next_day() -> None:
    page = availability(
        weekly={day: hours("09:00-10:00", "22:00-23:00") for day in EVERY_DAY}, horizon_days=2
    )
    slots = offered(page, length=60)

    # Berlin 09:00 and 22:00 are 16:00 and 05:00 the next day in Tokyo.
    assert slots_by_day(slots, TOKYO) == {
        date(2026, 6, 1): [utc(2026, 6, 1, 7)],
        date(2026, 6, 2): [utc(2026, 6, 1, 20), utc(2026, 6, 2, 7)],
        date(2026, 6, 3): [utc(2026, 6, 2, 20)],
    }
    assert slots_by_day(slots, BERLIN) == {
        date(2026, 6, 1): [utc(2026, 6, 1, 7), utc(2026, 6, 1, 20)],
        date(2026, 6, 2): [utc(2026, 6, 2, 7), utc(2026, 6, 2, 20)],
    }
