"""Putting the portfolio together from what the calendars read: a pure function, no providers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from calendars.models import Calendar
from integrations.base import EventStatus, RemoteEvent, Response, Transparency, Window
from portfolio.fetch import Display, KnownBlocks, assemble

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
WEEK = Window(MONDAY, MONDAY + timedelta(days=7))
WORK = Calendar(id=uuid.uuid4(), name="Work")
HOME = Calendar(id=uuid.uuid4(), name="Home")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def event(event_id: str, start: datetime, minutes: int = 60, **fields) -> RemoteEvent:
    fields.setdefault("title", event_id)
    return RemoteEvent(
        id=event_id,
        series_id=event_id,
        start=start,
        end=start + timedelta(minutes=minutes),
        **fields,
    )


def test_a_block_id_hides_the_event_only_in_the_calendar_it_was_written_to():
    reads = [(WORK, [event("abc", at(1, 9))]), (HOME, [event("abc", at(1, 10))])]

    events = assemble(reads, window=WEEK, known_blocks=KnownBlocks({(str(WORK.id), "abc"): ""}))

    assert [(e.start, e.calendars) for e in events] == [(at(1, 10), [HOME])]


def test_copies_join_on_uid_and_times_and_keep_what_any_copy_knows():
    reads = [
        (WORK, [event("w1", at(1, 9), ical_uid="m@x", response=Response.DECLINED)]),
        (
            HOME,
            [
                event(
                    "h1",
                    at(1, 9),
                    ical_uid="m@x",
                    location="Café",
                    video_link="https://zoom.us/j/1",
                )
            ],
        ),
        (HOME, [event("h2", at(1, 9), ical_uid="m@x")]),
    ]

    (joined,) = assemble(reads, window=WEEK)

    assert joined.calendars == [WORK, HOME]
    assert (joined.location, joined.video_link) == ("Café", "https://zoom.us/j/1")
    assert not joined.declined  # accepted in one calendar: not declined


def test_copies_declined_everywhere_are_declined_and_free_only_if_free_everywhere():
    reads = [
        (WORK, [event("w1", at(1, 9), ical_uid="m@x", response=Response.DECLINED)]),
        (
            HOME,
            [
                event(
                    "h1",
                    at(1, 9),
                    ical_uid="m@x",
                    response=Response.DECLINED,
                    transparency=Transparency.FREE,
                )
            ],
        ),
    ]

    (joined,) = assemble(reads, window=WEEK)

    assert joined.declined and not joined.free


def test_same_uid_at_another_time_or_without_a_uid_stays_apart():
    reads = [
        (
            WORK,
            [
                event("w1", at(1, 9), ical_uid="series@x"),
                event("w2", at(2, 9), ical_uid="series@x"),
            ],
        ),
        (HOME, [event("h1", at(1, 9)), event("h2", at(1, 9))]),
    ]

    events = assemble(reads, window=WEEK)

    assert len(events) == len({e.id for e in events}) == 4


def test_window_edges_and_cancelled_events():
    reads = [
        (
            WORK,
            [
                event("ends-at-start", at(0, 0) - timedelta(hours=1)),
                event("moment-at-start", at(0, 0), minutes=0),
                event("moment-at-end", WEEK.end, minutes=0),
                event("cancelled", at(1, 9), status=EventStatus.CANCELLED),
                event("last", WEEK.end - timedelta(minutes=30)),
            ],
        )
    ]

    assert [e.title for e in assemble(reads, window=WEEK)] == ["moment-at-start", "last"]


def test_all_day_events_come_first_and_dates_a_day_beyond_the_window_are_kept():
    day_before = event("eve", MONDAY - timedelta(days=1), minutes=24 * 60, all_day=True)
    first_day = event("holiday", MONDAY, minutes=24 * 60, all_day=True)
    reads = [(WORK, [event("breakfast", MONDAY, minutes=30), first_day, day_before])]

    events = assemble(reads, window=WEEK)

    assert [e.title for e in events] == ["eve", "holiday", "breakfast"]


def test_event_ids_are_stable_and_reveal_nothing_of_the_provider_ids():
    reads = [(WORK, [event("https://dav.example.com/cal/secret-name.ics", at(1, 9))])]

    first = assemble(reads, window=WEEK)[0].id

    assert first == assemble(reads, window=WEEK)[0].id
    assert "secret" not in first and len(first) == 18


def test_blocks_show_apart_with_their_rule_only_where_the_user_asks():
    block_id = str(uuid.uuid4())
    marked = event("m1", at(2, 9), title="Busy", block_id=block_id)
    unmarked = event("u1", at(2, 11), title="Busy")
    reads = [
        (WORK, [marked, unmarked]),
        (HOME, [event("m1", at(2, 9), title="Busy", block_id=block_id)]),
    ]
    known = KnownBlocks(
        by_event={(str(WORK.id), "u1"): "other"}, rules={block_id: "Client to Work", "other": ""}
    )

    events = assemble(
        reads, window=WEEK, known_blocks=known, display={str(WORK.id): Display(show_blocks=True)}
    )

    assert [(e.start, e.block, e.rule, e.calendars) for e in events] == [
        (at(2, 9), True, "Client to Work", [WORK]),  # Home's copy stays hidden
        (at(2, 11), True, "", [WORK]),
    ]
    assert assemble(reads, window=WEEK, known_blocks=known) == []


def test_declined_invitations_are_left_out_of_a_calendar_that_hides_them():
    declined = event("d1", at(3, 9), response=Response.DECLINED)
    reads = [(WORK, [declined]), (HOME, [event("d2", at(3, 10), response=Response.DECLINED)])]

    events = assemble(reads, window=WEEK, display={str(WORK.id): Display(show_declined=False)})

    assert [(e.title, e.declined) for e in events] == [("d2", True)]
