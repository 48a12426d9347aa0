"""The sync planner as a pure function: privacy, filters, fingerprints and the operations it plans."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from integrations.base import EventStatus, RemoteEvent, Response, Transparency, Window
from syncrules.models import SyncRule
from syncrules.planner import (
    fingerprint,
    options_from_rule,
    plan,
    privacy_rank,
    render,
    skip_reason,
)
from syncrules.planning import (
    Create,
    ExistingBlock,
    Handling,
    Plan,
    Rendered,
    RuleOptions,
    RuleSpec,
    ShowAs,
    SkipReason,
    Visibility,
)

KEY = b"planner-test-key"
WINDOW = Window(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 5, 1, tzinfo=UTC))
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HONOLULU = ZoneInfo("Pacific/Honolulu")
TONGATAPU = ZoneInfo("Pacific/Tongatapu")
TUESDAY_NINE = datetime(2026, 3, 10, 9, tzinfo=UTC)
# Copy everything, so each test switches on only the option it is about.
COPY_ALL = RuleOptions(skip_declined=False, skip_free=False, all_day=Handling.BUSY)

# Unique strings planted in every field of a source event: none may reach a Busy-only block.
SECRET_TITLE = "Acquisition-of-Zephyrcorp"
SECRET_DESCRIPTION = "Board-pack-qx7Vb attendee ceo@zephyrcorp.example"
SECRET_LOCATION = "Room-Kestrel-9"
MEET = "https://meet.google.com/abc-defg-hij"
ZOOM = "https://us02web.zoom.us/j/81234567890?pwd=Zk9Xc3"
TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NzI1YjQ5%40thread.v2/0?context=x"
WEBEX = "https://acme.webex.com/meet/jane.doe"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def event(
    event_id: str = "event-1",
    *,
    start: datetime = TUESDAY_NINE,
    minutes: int = 60,
    series_id: str = "",
    **fields,
) -> RemoteEvent:
    return RemoteEvent(
        id=event_id,
        series_id=series_id or event_id,
        start=start,
        end=start + timedelta(minutes=minutes),
        **fields,
    )


def all_day(event_id: str = "holiday", *, first: date, days: int = 1, **fields) -> RemoteEvent:
    start = datetime.combine(first, time(), tzinfo=UTC)
    return RemoteEvent(
        id=event_id,
        series_id=event_id,
        start=start,
        end=start + timedelta(days=days),
        all_day=True,
        **fields,
    )


def secret_event(**fields) -> RemoteEvent:
    return event(
        title=f"{SECRET_TITLE} {ZOOM}",
        description=f"{SECRET_DESCRIPTION}\nJoin: {MEET}",
        location=f"{SECRET_LOCATION} {WEBEX}",
        video_link=MEET,
        **fields,
    )


def reason(source: RemoteEvent, options: RuleOptions = COPY_ALL, **kwargs) -> SkipReason | None:
    kwargs.setdefault("window", WINDOW)
    kwargs.setdefault("known_block_event_ids", frozenset())
    return skip_reason(source, options, **kwargs)


def block(
    source: RemoteEvent,
    target: str = "target-a",
    *,
    options: RuleOptions = COPY_ALL,
    fingerprint_: str | None = None,
    pending: bool = False,
    block_id: str | None = None,
    rule_id: str = "rule",
) -> ExistingBlock:
    """A block as the applier left it: by default showing exactly what ``source`` renders to."""
    if fingerprint_ is None:
        fingerprint_ = fingerprint(render(source, options), key=KEY)
    return ExistingBlock(
        id=block_id or f"block:{source.id}:{target}",
        source_event_id=source.id,
        source_series_id=source.series_id,
        target_calendar_id=target,
        fingerprint=fingerprint_,
        pending=pending,
        rule_id=rule_id,
    )


def planned(
    events: Sequence[RemoteEvent],
    existing: Sequence[ExistingBlock] = (),
    *,
    options: RuleOptions = COPY_ALL,
    targets: tuple[str, ...] = ("target-a",),
    full: bool = True,
    **kwargs,
) -> Plan:
    return plan(
        rules=[rule_spec(options, targets)],
        events=events,
        existing=existing,
        key=KEY,
        full=full,
        **kwargs,
    )


def rule_spec(
    options: RuleOptions = COPY_ALL,
    targets: Sequence[str] = ("target-a",),
    *,
    rule_id: str = "rule",
) -> RuleSpec:
    return RuleSpec(id=rule_id, options=options, targets=frozenset(targets), window=WINDOW)


def deleted(result: Plan) -> list[str]:
    return [delete.block_id for delete in result.deletes]


def visible_text(rendered: Rendered) -> str:
    return "\n".join((rendered.title, rendered.description, rendered.location))


# Reading the rule


def test_options_from_rule_reads_every_setting():
    rule = SyncRule(
        visibility=SyncRule.Visibility.FULL,
        busy_title="Client work",
        show_location=True,
        show_video_link=True,
        include_keywords=["  Client ", "", "REVIEW", "client"],
        exclude_keywords=["Private", "   "],
        skip_declined=False,
        skip_free=False,
        tentative=SyncRule.Handling.FREE,
        all_day=SyncRule.Handling.BUSY,
        show_as=SyncRule.ShowAs.SOURCE,
        weekdays=[1, 2, 5],
        working_hours_start=time(9),
        working_hours_end=time(17, 30),
    )

    options = options_from_rule(rule, time_zone=BERLIN)

    assert options == RuleOptions(
        visibility=Visibility.FULL,
        busy_title="Client work",
        show_location=True,
        show_video_link=True,
        include_keywords=("client", "review"),
        exclude_keywords=("private",),
        skip_declined=False,
        skip_free=False,
        tentative=Handling.FREE,
        all_day=Handling.BUSY,
        show_as=ShowAs.SOURCE,
        weekdays=frozenset({1, 2, 5}),
        working_hours=(time(9), time(17, 30)),
        time_zone=BERLIN,
    )


def test_options_from_a_default_rule_have_no_working_hours_and_every_weekday():
    options = options_from_rule(SyncRule(), time_zone=UTC)

    assert options.working_hours is None
    assert options.weekdays == frozenset()
    assert options == RuleOptions(time_zone=UTC)


def test_the_planner_imports_without_django_settings_and_loads_neither_django_nor_celery():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    loaded = "import sys, syncrules.planner; print(sorted({m.split('.')[0] for m in sys.modules}))"
    completed = subprocess.run(
        [sys.executable, "-c", loaded],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "django" not in completed.stdout and "celery" not in completed.stdout


# Privacy: what a block shows


@pytest.mark.parametrize("show_location", [False, True])
@pytest.mark.parametrize("show_video_link", [False, True])
def test_busy_only_blocks_leak_nothing_whatever_the_toggles_say(show_location, show_video_link):
    options = RuleOptions(
        visibility=Visibility.BUSY, show_location=show_location, show_video_link=show_video_link
    )

    rendered = render(secret_event(), options)

    assert (rendered.title, rendered.description, rendered.location) == ("Busy", "", "")
    text = visible_text(rendered)
    for secret in ("Zephyrcorp", "qx7Vb", "ceo@", "Kestrel", "meet.google", "zoom.us", "webex"):
        assert secret not in text


def test_busy_only_blocks_use_the_rules_busy_title_or_busy_when_it_is_blank():
    assert render(event(), RuleOptions(busy_title="Out of office")).title == "Out of office"
    assert render(event(), RuleOptions(busy_title="")).title == "Busy"


def test_title_only_blocks_show_the_title_and_nothing_else():
    rendered = render(secret_event(), RuleOptions(visibility=Visibility.TITLE))

    assert rendered.title == SECRET_TITLE
    assert (rendered.description, rendered.location) == ("", "")


def test_title_only_blocks_fall_back_to_the_busy_title_for_an_untitled_event():
    options = RuleOptions(visibility=Visibility.TITLE, busy_title="Blocked")

    assert render(event(title="  "), options).title == "Blocked"


def test_title_only_blocks_show_the_location_only_when_asked_and_without_its_video_link():
    source = secret_event()

    hidden = render(source, RuleOptions(visibility=Visibility.TITLE))
    shown = render(source, RuleOptions(visibility=Visibility.TITLE, show_location=True))

    assert hidden.location == ""
    assert shown.location == SECRET_LOCATION


def test_title_only_blocks_with_the_video_link_carry_the_link_alone_as_description():
    options = RuleOptions(visibility=Visibility.TITLE, show_video_link=True)

    rendered = render(secret_event(), options)

    assert rendered.description == f"Join: {MEET}"
    assert rendered.location == ""
    assert render(event(title="No call"), options).description == ""


def test_full_details_show_title_and_description_without_video_links():
    rendered = render(secret_event(), RuleOptions(visibility=Visibility.FULL))

    assert rendered.title == SECRET_TITLE
    assert rendered.description == f"{SECRET_DESCRIPTION}\nJoin:"
    assert rendered.location == ""


def test_full_details_with_video_link_keep_a_link_already_in_the_description_once():
    rendered = render(secret_event(), RuleOptions(visibility=Visibility.FULL, show_video_link=True))

    assert rendered.description == f"{SECRET_DESCRIPTION}\nJoin: {MEET}"
    assert rendered.title == f"{SECRET_TITLE} {ZOOM}"


def test_full_details_with_video_link_append_a_link_the_description_lacks():
    source = event(description="Agenda attached", location=MEET, video_link=MEET)

    rendered = render(source, RuleOptions(visibility=Visibility.FULL, show_video_link=True))

    assert rendered.description == f"Agenda attached\n\nJoin: {MEET}"
    assert rendered.location == ""


@pytest.mark.parametrize("link", [MEET, ZOOM, TEAMS, WEBEX], ids=["meet", "zoom", "teams", "webex"])
@pytest.mark.parametrize("visibility", [Visibility.TITLE, Visibility.FULL])
def test_video_links_of_every_service_are_stripped_unless_shown(link, visibility):
    source = event(
        title=f"Sync {link}",
        description=f"Dial in: {link} thanks",
        location=f"Room 4 {link}",
        video_link=link,
    )

    hidden = render(source, RuleOptions(visibility=visibility, show_location=True))
    shown = render(
        source, RuleOptions(visibility=visibility, show_location=True, show_video_link=True)
    )

    assert link not in visible_text(hidden)
    assert hidden.title == "Sync"
    assert hidden.location == "Room 4"
    assert link in shown.location
    assert link in shown.description


def test_a_link_the_provider_reported_is_stripped_even_when_the_pattern_does_not_know_it():
    link = "https://video.example.net/room/42"
    source = event(description=f"Call at {link}", location=link, video_link=link)

    rendered = render(source, RuleOptions(visibility=Visibility.FULL, show_location=True))

    assert link not in visible_text(rendered)


def test_blocks_keep_the_events_times_and_all_day_dates():
    timed = event(start=utc(2026, 3, 10, 9, 30), minutes=45)
    holiday = all_day(first=date(2026, 3, 10), days=2)

    assert (render(timed, COPY_ALL).start, render(timed, COPY_ALL).end) == (timed.start, timed.end)
    rendered = render(holiday, RuleOptions(time_zone=TONGATAPU))
    assert (rendered.start, rendered.end, rendered.all_day) == (holiday.start, holiday.end, True)


@pytest.mark.parametrize(
    ("source", "options", "expected"),
    [
        (event(transparency=Transparency.FREE), RuleOptions(show_as=ShowAs.SOURCE), "free"),
        (event(), RuleOptions(show_as=ShowAs.SOURCE), "busy"),
        (
            event(status=EventStatus.TENTATIVE),
            RuleOptions(show_as=ShowAs.SOURCE, tentative=Handling.FREE),
            "free",
        ),
        (
            event(response=Response.TENTATIVE),
            RuleOptions(show_as=ShowAs.SOURCE, tentative=Handling.FREE),
            "free",
        ),
        (
            event(status=EventStatus.TENTATIVE),
            RuleOptions(show_as=ShowAs.SOURCE, tentative=Handling.BUSY),
            "busy",
        ),
        (
            all_day(first=date(2026, 3, 10)),
            RuleOptions(show_as=ShowAs.SOURCE, all_day=Handling.FREE),
            "free",
        ),
        (
            all_day(first=date(2026, 3, 10), transparency=Transparency.FREE),
            RuleOptions(show_as=ShowAs.SOURCE, all_day=Handling.BUSY),
            "busy",
        ),
        (event(transparency=Transparency.FREE), RuleOptions(show_as=ShowAs.BUSY), "busy"),
        (
            all_day(first=date(2026, 3, 10)),
            RuleOptions(show_as=ShowAs.BUSY, all_day=Handling.FREE),
            "busy",
        ),
        (event(), RuleOptions(show_as=ShowAs.FREE), "free"),
    ],
    ids=[
        "source-free",
        "source-busy",
        "tentative-as-free",
        "maybe-answer-as-free",
        "tentative-as-busy",
        "all-day-as-free",
        "free-all-day-as-busy",
        "always-busy-overrides-free",
        "always-busy-overrides-all-day-free",
        "always-free-overrides-busy",
    ],
)
def test_blocks_are_busy_or_free_as_the_rule_says(source, options, expected):
    assert render(source, options).transparency == Transparency(expected)


# Fingerprints


def test_a_fingerprint_is_stable_for_the_same_block():
    first = fingerprint(render(secret_event(), COPY_ALL), key=KEY)

    assert fingerprint(render(secret_event(), COPY_ALL), key=KEY) == first
    assert len(first) == 64
    assert int(first, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"start": utc(2026, 3, 10, 9, 1)},
        {"end": utc(2026, 3, 10, 11)},
        {"all_day": True},
        {"title": "Busy!"},
        {"description": "x"},
        {"location": "x"},
        {"transparency": Transparency.FREE},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_fingerprint_changes_when_any_visible_field_changes(change):
    rendered = render(event(), COPY_ALL)

    changed = dataclasses.replace(rendered, **change)

    assert fingerprint(changed, key=KEY) != fingerprint(rendered, key=KEY)


def test_fields_cannot_run_into_each_other_in_a_fingerprint():
    rendered = render(event(), COPY_ALL)
    one = dataclasses.replace(rendered, title="ab", description="c")
    other = dataclasses.replace(rendered, title="a", description="bc")

    assert fingerprint(one, key=KEY) != fingerprint(other, key=KEY)


def test_a_fingerprint_under_another_key_differs():
    rendered = render(secret_event(), RuleOptions(visibility=Visibility.FULL))

    assert fingerprint(rendered, key=KEY) != fingerprint(rendered, key=b"another-key")


def test_a_fingerprint_needs_a_key():
    with pytest.raises(ValueError, match="key"):
        fingerprint(render(event(), COPY_ALL), key=b"")


# Which events are copied


def test_an_event_carrying_our_marker_is_never_a_source():
    assert reason(event(block_id="3f1c")) == SkipReason.OURS


def test_an_event_we_wrote_is_never_a_source_even_when_its_marker_was_lost():
    assert (
        reason(event("written-by-us"), known_block_event_ids={"written-by-us"}) == SkipReason.OURS
    )


def test_our_own_blocks_are_recognised_before_any_other_reason():
    cancelled = event(block_id="3f1c", status=EventStatus.CANCELLED, start=utc(2020, 1, 1))

    assert reason(cancelled) == SkipReason.OURS


def test_a_cancelled_event_is_not_copied():
    assert reason(event(status=EventStatus.CANCELLED)) == SkipReason.CANCELLED


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (utc(2026, 2, 28, 23), 60, SkipReason.OUTSIDE_WINDOW),  # ends as the window opens
        (utc(2026, 2, 28, 23), 61, None),  # runs a minute into the window
        (utc(2026, 3, 1), 0, None),  # an instant at the window's start is inside
        (utc(2026, 4, 30, 23), 60, None),  # ends as the window closes
        (utc(2026, 5, 1), 30, SkipReason.OUTSIDE_WINDOW),  # starts as the window closes
        (utc(2026, 2, 1), 60 * 24 * 120, None),  # spans the whole window
    ],
    ids=[
        "ends-at-start",
        "overlaps-start",
        "instant-at-start",
        "ends-at-end",
        "starts-at-end",
        "spans",
    ],
)
def test_only_events_overlapping_the_window_are_copied(start, minutes, expected):
    assert reason(event(start=start, minutes=minutes)) == expected


def test_lookback_and_lookahead_bound_the_window():
    now = utc(2026, 3, 15, 12)
    window = Window(start=now - timedelta(days=7), end=now + timedelta(days=60))

    assert reason(event(start=now - timedelta(days=7, hours=2)), window=window) is not None
    assert reason(event(start=now - timedelta(days=6)), window=window) is None
    assert reason(event(start=now + timedelta(days=59)), window=window) is None
    assert reason(event(start=now + timedelta(days=60)), window=window) is not None


def test_an_all_day_event_is_in_the_window_by_its_dates_where_the_user_is():
    # The window opens at 00:00 UTC on 10 March: still 9 March in Honolulu, already 10 March
    # in Tonga. A holiday on 9 March is current for the first and over for the second.
    window = Window(start=utc(2026, 3, 10), end=utc(2026, 4, 10))
    holiday = all_day(first=date(2026, 3, 9))

    assert reason(holiday, dataclasses.replace(COPY_ALL, time_zone=HONOLULU), window=window) is None
    assert (
        reason(holiday, dataclasses.replace(COPY_ALL, time_zone=TONGATAPU), window=window)
        == SkipReason.OUTSIDE_WINDOW
    )


@pytest.mark.parametrize(
    ("skip_declined", "expected"), [(True, SkipReason.DECLINED), (False, None)]
)
def test_declined_events_are_skipped_when_the_rule_says_so(skip_declined, expected):
    options = dataclasses.replace(COPY_ALL, skip_declined=skip_declined)

    assert reason(event(response=Response.DECLINED), options) == expected
    assert reason(event(response=Response.ACCEPTED), options) is None


@pytest.mark.parametrize(("skip_free", "expected"), [(True, SkipReason.FREE), (False, None)])
def test_free_events_are_skipped_when_the_rule_says_so(skip_free, expected):
    options = dataclasses.replace(COPY_ALL, skip_free=skip_free)

    assert reason(event(transparency=Transparency.FREE), options) == expected
    assert reason(event(transparency=Transparency.BUSY), options) is None


def test_a_free_all_day_event_follows_the_all_day_option_not_skip_free():
    holiday = all_day(first=date(2026, 3, 10), transparency=Transparency.FREE)
    options = RuleOptions(skip_free=True, all_day=Handling.BUSY)

    assert reason(holiday, options) is None
    assert (
        reason(holiday, dataclasses.replace(options, all_day=Handling.SKIP)) == SkipReason.ALL_DAY
    )


@pytest.mark.parametrize(
    ("handling", "expected"),
    [(Handling.SKIP, SkipReason.TENTATIVE), (Handling.BUSY, None), (Handling.FREE, None)],
)
def test_tentative_events_are_skipped_or_copied_as_the_rule_says(handling, expected):
    options = dataclasses.replace(COPY_ALL, tentative=handling)

    assert reason(event(status=EventStatus.TENTATIVE), options) == expected
    assert reason(event(response=Response.TENTATIVE), options) == expected
    assert reason(event(), options) is None


@pytest.mark.parametrize(
    ("handling", "expected"),
    [(Handling.SKIP, SkipReason.ALL_DAY), (Handling.BUSY, None), (Handling.FREE, None)],
)
def test_all_day_events_are_skipped_or_copied_as_the_rule_says(handling, expected):
    options = dataclasses.replace(COPY_ALL, all_day=handling)

    assert reason(all_day(first=date(2026, 3, 10)), options) == expected
    assert reason(event(), options) is None


@pytest.mark.parametrize(
    "fields",
    [{"title": "PRIVATE: dentist"}, {"description": "Note: Private appointment"}],
    ids=["title", "description"],
)
def test_an_excluded_keyword_in_title_or_description_skips_the_event(fields):
    options = dataclasses.replace(COPY_ALL, exclude_keywords=("dentist", "private"))

    assert reason(event(**fields), options) == SkipReason.EXCLUDED_KEYWORD
    assert reason(event(title="Team standup"), options) is None


@pytest.mark.parametrize(
    "fields",
    [{"title": "ACME quarterly review"}, {"description": "With the Acme team"}],
    ids=["title", "description"],
)
def test_an_included_keyword_in_title_or_description_is_required(fields):
    options = dataclasses.replace(COPY_ALL, include_keywords=("acme", "globex"))

    assert reason(event(**fields), options) is None
    assert reason(event(title="Lunch", location="Acme HQ"), options) == SkipReason.MISSING_KEYWORD


def test_an_excluded_keyword_wins_over_an_included_one():
    options = dataclasses.replace(
        COPY_ALL, include_keywords=("acme",), exclude_keywords=("cancelled",)
    )

    assert reason(event(title="Acme call (cancelled)"), options) == SkipReason.EXCLUDED_KEYWORD


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            event(status=EventStatus.CANCELLED, start=utc(2020, 1, 1)),
            SkipReason.CANCELLED,
        ),
        (event(response=Response.DECLINED, title="private"), SkipReason.DECLINED),
        (
            event(transparency=Transparency.FREE, status=EventStatus.TENTATIVE),
            SkipReason.FREE,
        ),
        (all_day(first=date(2026, 3, 14), title="private"), SkipReason.ALL_DAY),
    ],
    ids=[
        "cancelled-before-window",
        "declined-before-keyword",
        "free-before-tentative",
        "all-day-before-keyword",
    ],
)
def test_the_first_reason_in_order_is_reported(source, expected):
    options = RuleOptions(
        tentative=Handling.SKIP, exclude_keywords=("private",), weekdays=frozenset({1})
    )

    assert reason(source, options) == expected


# Weekdays and working hours, read where the user is


def weekdays(*days: int, zone=UTC) -> RuleOptions:
    return dataclasses.replace(COPY_ALL, weekdays=frozenset(days), time_zone=zone)


def hours(opens: time, closes: time, zone, *days: int) -> RuleOptions:
    return dataclasses.replace(
        COPY_ALL, working_hours=(opens, closes), time_zone=zone, weekdays=frozenset(days)
    )


def test_weekdays_are_read_in_the_users_time_zone():
    # Monday 23:15 UTC is already Tuesday 00:15 in Berlin.
    late_monday = event(start=utc(2026, 3, 9, 23, 15), minutes=30)

    assert reason(late_monday, weekdays(1)) is None
    assert reason(late_monday, weekdays(1, zone=BERLIN)) == SkipReason.WEEKDAY
    assert reason(late_monday, weekdays(2, zone=BERLIN)) is None


def test_weekdays_follow_the_spring_dst_change_in_berlin():
    # 22:30 UTC on Sunday 29 March 2026 is 00:30 on Monday in summer time (it would still be
    # Sunday at the winter offset).
    after_change = event(start=utc(2026, 3, 29, 22, 30), minutes=20)

    assert reason(after_change, weekdays(1, zone=BERLIN)) is None
    assert reason(after_change, weekdays(7, zone=BERLIN)) == SkipReason.WEEKDAY


def test_weekdays_follow_the_autumn_dst_change_in_new_york():
    # 04:30 UTC on 2 November 2026 is 23:30 on Sunday once New York is back on standard time.
    after_change = event(start=utc(2026, 11, 2, 4, 30), minutes=20)
    window = Window(start=utc(2026, 10, 1), end=utc(2026, 12, 1))

    assert reason(after_change, weekdays(7, zone=NEW_YORK), window=window) is None
    assert reason(after_change, weekdays(1, zone=NEW_YORK), window=window) == SkipReason.WEEKDAY


@pytest.mark.parametrize("zone", [HONOLULU, TONGATAPU], ids=["utc-10", "utc+13"])
def test_all_day_events_stay_on_their_dates_whatever_the_zone(zone):
    monday = all_day(first=date(2026, 3, 9))

    assert reason(monday, weekdays(1, zone=zone)) is None
    assert reason(monday, weekdays(7, zone=zone)) == SkipReason.WEEKDAY
    assert reason(monday, weekdays(2, zone=zone)) == SkipReason.WEEKDAY
    assert render(monday, weekdays(1, zone=zone)).start == utc(2026, 3, 9)


def test_a_holiday_over_a_weekend_blocks_the_weekdays_it_covers():
    saturday_to_friday = all_day(first=date(2026, 3, 14), days=7)

    assert reason(saturday_to_friday, weekdays(1, 2, 3, 4, 5, zone=BERLIN)) is None
    assert reason(all_day(first=date(2026, 3, 14), days=2), weekdays(1, 2, 3, 4, 5)) == (
        SkipReason.WEEKDAY
    )


def test_working_hours_follow_the_spring_dst_change_in_berlin():
    office = hours(time(9), time(17), BERLIN)
    # Friday before the change, Berlin is UTC+1; Monday after it, UTC+2.
    friday_1530 = event(start=utc(2026, 3, 27, 15, 30), minutes=30)  # 16:30 local
    monday_1530 = event(start=utc(2026, 3, 30, 15, 30), minutes=30)  # 17:30 local
    monday_0730 = event(start=utc(2026, 3, 30, 7, 30), minutes=30)  # 09:30 local

    assert reason(friday_1530, office) is None
    assert reason(monday_1530, office) == SkipReason.WORKING_HOURS
    assert reason(monday_0730, office) is None


def test_working_hours_follow_the_autumn_dst_change_in_new_york():
    office = hours(time(9), time(17), NEW_YORK)
    window = Window(start=utc(2026, 10, 1), end=utc(2026, 12, 1))
    friday = event(start=utc(2026, 10, 30, 13, 30), minutes=30)  # 09:30 EDT
    monday = event(start=utc(2026, 11, 2, 13, 30), minutes=30)  # 08:30 EST

    assert reason(friday, office, window=window) is None
    assert reason(monday, office, window=window) == SkipReason.WORKING_HOURS


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (utc(2026, 3, 10, 7), 60, SkipReason.WORKING_HOURS),  # 08:00-09:00 ends as work starts
        (utc(2026, 3, 10, 7), 61, None),  # a minute into the working day
        (utc(2026, 3, 10, 16), 30, SkipReason.WORKING_HOURS),  # starts as work ends
        (utc(2026, 3, 10, 15, 59), 30, None),  # starts a minute before work ends
        (utc(2026, 3, 10, 5), 60 * 14, None),  # spans the working day
    ],
    ids=["ends-at-opening", "overlaps-opening", "starts-at-closing", "overlaps-closing", "spans"],
)
def test_working_hours_are_half_open(start, minutes, expected):
    assert reason(event(start=start, minutes=minutes), hours(time(9), time(17), BERLIN)) == expected


def test_working_hours_that_end_before_they_start_run_past_midnight():
    night_shift = hours(time(22), time(6), UTC)

    assert reason(event(start=utc(2026, 3, 10, 3)), night_shift) is None
    assert reason(event(start=utc(2026, 3, 10, 23)), night_shift) is None
    assert reason(event(start=utc(2026, 3, 10, 12)), night_shift) == SkipReason.WORKING_HOURS


def test_working_hours_count_only_on_the_selected_weekdays():
    # Friday 20:00 to Saturday 11:00: it overlaps Saturday's hours, but Saturday is not a workday.
    overnight = event(start=utc(2026, 3, 13, 20), minutes=15 * 60)
    office = hours(time(9), time(17), UTC, 1, 2, 3, 4, 5)

    assert reason(overnight, office) == SkipReason.WORKING_HOURS
    assert reason(overnight, hours(time(9), time(17), UTC)) is None


@pytest.mark.parametrize("zone", [HONOLULU, TONGATAPU], ids=["utc-10", "utc+13"])
def test_all_day_events_pass_working_hours(zone):
    assert reason(all_day(first=date(2026, 3, 10)), hours(time(9), time(17), zone)) is None


# Planning operations


def test_a_new_event_gets_a_block_in_each_target():
    source = event()

    result = planned([source], targets=("target-b", "target-a"))

    assert [create.target_calendar_id for create in result.creates] == ["target-a", "target-b"]
    assert {create.fingerprint for create in result.creates} == {
        fingerprint(render(source, COPY_ALL), key=KEY)
    }
    assert (result.updates, result.deletes, result.skips, result.unchanged) == ([], [], [], 0)


def test_an_unchanged_block_is_left_alone():
    source = event()

    result = planned([source], [block(source)])

    assert (result.creates, result.updates, result.deletes) == ([], [], [])
    assert result.unchanged == 1


def test_a_changed_event_updates_its_block():
    source = event(title="Moved to the afternoon")
    existing = block(source, fingerprint_="0" * 64)

    result = planned([source], [existing], options=RuleOptions(visibility=Visibility.TITLE))

    assert [update.block_id for update in result.updates] == [existing.id]
    assert result.updates[0].rendered.title == "Moved to the afternoon"
    assert (result.creates, result.deletes, result.unchanged) == ([], [], 0)


def test_a_pending_block_is_updated_even_when_its_fingerprint_matches():
    source = event()

    result = planned([source], [block(source, pending=True)])

    assert [update.block_id for update in result.updates] == ["block:event-1:target-a"]
    assert result.unchanged == 0


@pytest.mark.parametrize("full", [True, False], ids=["full", "incremental"])
def test_a_skipped_event_is_listed_once_and_loses_its_blocks(full):
    now_free = event(transparency=Transparency.FREE)
    targets = ("target-a", "target-b")
    existing = [block(now_free, target) for target in targets]

    result = planned([now_free], existing, options=RuleOptions(), targets=targets, full=full)

    assert [(skip.event.id, skip.reason) for skip in result.skips] == [("event-1", SkipReason.FREE)]
    assert deleted(result) == sorted(existing_block.id for existing_block in existing)
    assert (result.creates, result.updates) == ([], [])


def test_a_full_plan_deletes_the_blocks_of_events_that_are_gone():
    kept, gone = event("kept"), event("gone")

    result = planned([kept], [block(kept), block(gone)], full=True)

    assert deleted(result) == ["block:gone:target-a"]
    assert result.unchanged == 1


def test_an_incremental_plan_keeps_the_blocks_of_events_it_was_not_told_about():
    changed, untouched = event("changed", title="New"), event("untouched")

    result = planned([changed], [block(changed, fingerprint_="old"), block(untouched)], full=False)

    assert deleted(result) == []
    assert [update.block_id for update in result.updates] == ["block:changed:target-a"]


def test_an_incremental_plan_deletes_the_blocks_of_removed_events():
    removed, other = event("removed"), event("other")

    result = planned(
        [], [block(removed), block(other)], full=False, removed_ids=["removed", "never-copied"]
    )

    assert deleted(result) == ["block:removed:target-a"]


@pytest.mark.parametrize("full", [True, False], ids=["full", "incremental"])
def test_a_target_removed_from_the_rule_loses_its_blocks(full):
    source, elsewhere = event("source"), event("elsewhere")
    existing = [block(source, "kept"), block(source, "dropped"), block(elsewhere, "dropped")]

    result = planned([source], existing, targets=("kept",), full=full)

    assert deleted(result) == ["block:elsewhere:dropped", "block:source:dropped"]
    assert result.unchanged == 1
    assert result.creates == []


def weekly_series() -> list[RemoteEvent]:
    starts = [utc(2026, 3, 10, 9) + timedelta(weeks=week) for week in range(4)]
    return [event(f"standup_{start:%Y%m%d}", series_id="standup", start=start) for start in starts]


@pytest.mark.parametrize(
    "mode", ["full", "incremental-replaced-series", "incremental-cancelled-instance"]
)
def test_a_recurring_series_with_a_moved_and_a_cancelled_instance(mode):
    options = RuleOptions(visibility=Visibility.TITLE)
    instances = weekly_series()
    other = event("one-off", start=utc(2026, 3, 11, 14))
    existing = [block(instance, options=options) for instance in [*instances, other]]
    moved = dataclasses.replace(instances[1], start=utc(2026, 3, 17, 15), end=utc(2026, 3, 17, 16))
    cancelled = instances[2]
    kwargs = {}
    if mode == "full":
        events = [instances[0], moved, instances[3], other]
    elif mode == "incremental-replaced-series":
        events = [instances[0], moved, instances[3]]
        kwargs = {"replaced_series": {"standup"}}
    else:
        events = [moved, dataclasses.replace(cancelled, status=EventStatus.CANCELLED)]

    result = planned(events, existing, options=options, full=mode == "full", **kwargs)

    assert [(update.block_id, update.rendered.start) for update in result.updates] == [
        (f"block:{moved.id}:target-a", utc(2026, 3, 17, 15))
    ]
    assert deleted(result) == [f"block:{cancelled.id}:target-a"]
    assert result.creates == []


def test_a_replaced_series_with_no_instances_left_loses_all_its_blocks():
    instances = weekly_series()
    other = event("one-off")

    result = planned(
        [], [block(e) for e in [*instances, other]], full=False, replaced_series={"standup"}
    )

    assert deleted(result) == sorted(f"block:{instance.id}:target-a" for instance in instances)


def test_blocks_are_never_planned_from_our_own_events_by_either_layer():
    marked = event("marked", block_id="b-1")
    known = event("known")

    result = planned([marked, known], known_block_event_ids=frozenset({"known"}))

    assert [(skip.event.id, skip.reason) for skip in result.skips] == [
        ("marked", SkipReason.OURS),
        ("known", SkipReason.OURS),
    ]
    assert result.creates == []


def test_the_last_of_repeated_event_ids_wins():
    first = event(title="First")
    last = event(title="Last")

    result = planned([first, last], options=RuleOptions(visibility=Visibility.TITLE))

    assert [create.rendered.title for create in result.creates] == ["Last"]


def test_a_second_block_for_the_same_event_and_target_is_deleted():
    source = event()
    original = block(source, block_id="b-1")
    duplicate = block(source, block_id="b-2")

    result = planned([source], [original, duplicate], full=False)

    assert deleted(result) == ["b-2"]
    assert result.unchanged == 1


def test_deletes_are_sorted_and_never_repeated():
    skipped = event("zz", status=EventStatus.CANCELLED)
    blocks = [block(skipped, "dropped", block_id="b-9"), block(event("aa"), block_id="b-1")]

    result = planned(
        [skipped], blocks, full=False, removed_ids={"zz", "aa"}, replaced_series={"zz"}
    )

    assert deleted(result) == ["b-1", "b-9"]


def test_a_block_kept_by_a_copied_event_is_never_deleted():
    source = event()

    result = planned([source], [block(source)], full=False, removed_ids={source.id})

    assert (deleted(result), result.unchanged) == ([], 1)


# Invariants over random calendars


def random_calendar(rng: random.Random):
    """Events, blocks and change-set details drawn at random to probe the plan's invariants."""
    titles = ["Standup", "Client ACME", "private lunch", "Review", ""]
    events = []
    for number in range(rng.randint(0, 60)):
        start = WINDOW.start + timedelta(minutes=rng.randint(-3000, 90_000) * 15)
        fields = {
            "status": rng.choice(list(EventStatus)),
            "transparency": rng.choice(list(Transparency)),
            "response": rng.choice(list(Response)),
            "title": rng.choice(titles),
            "block_id": "ours" if rng.random() < 0.05 else "",
        }
        event_id = f"e{rng.randint(0, 70)}" if rng.random() < 0.2 else f"e{number}"
        if rng.random() < 0.15:
            events.append(all_day(event_id, first=start.date(), days=rng.randint(1, 3), **fields))
        else:
            events.append(event(event_id, start=start, minutes=rng.choice([0, 30, 90]), **fields))
    targets = rng.sample(["t1", "t2", "t3"], rng.randint(0, 3))
    existing = [
        ExistingBlock(
            id=f"b{number}",
            source_event_id=f"e{rng.randint(0, 80)}",
            source_series_id=f"s{rng.randint(0, 3)}",
            target_calendar_id=rng.choice(["t1", "t2", "t3", "t4"]),
            fingerprint=rng.choice(["stale", ""]),
            pending=rng.random() < 0.1,
            rule_id="rule",
        )
        for number in range(rng.randint(0, 60))
    ]
    options = RuleOptions(
        visibility=rng.choice(list(Visibility)),
        skip_declined=rng.random() < 0.5,
        skip_free=rng.random() < 0.5,
        tentative=rng.choice(list(Handling)),
        all_day=rng.choice(list(Handling)),
        show_as=rng.choice(list(ShowAs)),
        exclude_keywords=("private",) if rng.random() < 0.5 else (),
        include_keywords=("acme", "standup") if rng.random() < 0.3 else (),
        weekdays=frozenset(rng.sample(range(1, 8), 5)) if rng.random() < 0.3 else frozenset(),
        working_hours=(time(8), time(18)) if rng.random() < 0.3 else None,
        time_zone=rng.choice([UTC, BERLIN, HONOLULU, TONGATAPU]),
    )
    return events, existing, targets, options


@pytest.mark.parametrize("seed", range(40))
def test_random_calendars_keep_the_plans_invariants(seed):
    rng = random.Random(seed)
    events, existing, targets, options = random_calendar(rng)
    full = rng.random() < 0.5
    removed_ids = {f"e{rng.randint(0, 80)}" for _ in range(5)}
    replaced_series = {f"s{rng.randint(0, 3)}"}

    result = plan(
        rules=[rule_spec(options, targets)],
        events=events,
        existing=existing,
        key=KEY,
        full=full,
        removed_ids=removed_ids,
        replaced_series=replaced_series,
    )

    latest = {source.id: source for source in events}
    reasons = {
        event_id: skip_reason(source, options, window=WINDOW, known_block_event_ids=())
        for event_id, source in latest.items()
    }
    kept = {event_id for event_id, why in reasons.items() if why is None}
    skipped = set(latest) - kept
    block_by_id = {existing_block.id: existing_block for existing_block in existing}
    written = [(c.event.id, c.target_calendar_id) for c in result.creates] + [
        (u.event.id, block_by_id[u.block_id].target_calendar_id) for u in result.updates
    ]

    assert len(written) == len(set(written))
    assert len(result.creates) + len(result.updates) + result.unchanged == len(kept) * len(targets)
    assert not {event_id for event_id, _ in written} & skipped
    assert sorted(skip.event.id for skip in result.skips) == sorted(skipped)
    assert deleted(result) == sorted(set(deleted(result)))
    assert not set(deleted(result)) & {update.block_id for update in result.updates}
    for create in result.creates:
        assert create.fingerprint == fingerprint(render(create.event, options), key=KEY)

    after = [b for b in existing if b.id not in set(deleted(result))]
    slots = [(b.source_event_id, b.target_calendar_id) for b in after] + [
        (c.event.id, c.target_calendar_id) for c in result.creates
    ]
    assert len(slots) == len(set(slots))
    assert not {event_id for event_id, _ in slots} & skipped
    assert not {target for _, target in slots} - set(targets)
    if full:
        assert set(slots) == {(event_id, target) for event_id in kept for target in targets}
    else:
        assert {(event_id, target) for event_id in kept for target in targets} <= set(slots)
        assert not {event_id for event_id, _ in slots} & (removed_ids - kept)


# Several rules reading one source --------------------------------------------------------------

BUSY_ONLY = dataclasses.replace(COPY_ALL, visibility=Visibility.BUSY)
TITLES = dataclasses.replace(COPY_ALL, visibility=Visibility.TITLE)
FULL = dataclasses.replace(COPY_ALL, visibility=Visibility.FULL)


def test_two_rules_into_one_calendar_give_one_block_rendered_by_the_more_private():
    source = secret_event()
    result = plan(
        rules=[rule_spec(FULL, rule_id="full"), rule_spec(BUSY_ONLY, rule_id="busy")],
        events=[source],
        existing=[],
        key=KEY,
        full=True,
    )

    assert [(c.target_calendar_id, c.rule_id) for c in result.creates] == [("target-a", "busy")]
    assert result.creates[0].rendered.title == "Busy"
    assert SECRET_TITLE not in visible_text(result.creates[0].rendered)


def test_each_target_gets_the_most_private_of_the_rules_that_write_into_it():
    source = secret_event()
    result = plan(
        rules=[
            rule_spec(FULL, ("a", "b"), rule_id="full"),
            rule_spec(TITLES, ("b",), rule_id="titles"),
        ],
        events=[source],
        existing=[],
        key=KEY,
        full=True,
    )

    assert [(c.target_calendar_id, c.rule_id) for c in result.creates] == [
        ("a", "full"),
        ("b", "titles"),
    ]


def test_a_rule_that_skips_the_event_leaves_it_to_the_other():
    source = event("dentist", title="Dentist")
    private = dataclasses.replace(BUSY_ONLY, exclude_keywords=("dentist",))
    result = plan(
        rules=[rule_spec(private, rule_id="busy"), rule_spec(TITLES, rule_id="titles")],
        events=[source],
        existing=[],
        key=KEY,
        full=True,
    )

    assert [(c.rule_id, c.rendered.title) for c in result.creates] == [("titles", "Dentist")]
    assert [(s.rule_id, s.reason) for s in result.skips] == [("busy", SkipReason.EXCLUDED_KEYWORD)]


def test_a_block_credited_to_another_rule_showing_the_same_moves_over_without_a_rewrite():
    source = event("standup")
    existing = block(source, options=BUSY_ONLY, rule_id="gone")
    result = plan(
        rules=[rule_spec(BUSY_ONLY, rule_id="kept")],
        events=[source],
        existing=[existing],
        key=KEY,
        full=True,
    )

    assert [(u.block_id, u.rule_id, u.rewrite) for u in result.updates] == [
        (existing.id, "kept", False)
    ]


def test_deletions_say_whether_the_event_itself_is_gone():
    kept, filtered, gone = event("kept"), event("filtered", title="lunch"), event("gone")
    existing = [block(kept), block(filtered), block(gone), block(kept, "old-target")]
    options = dataclasses.replace(COPY_ALL, exclude_keywords=("lunch",))

    result = planned([kept, filtered], existing, options=options, full=True)

    vanished = {delete.block_id: delete.vanished for delete in result.deletes}
    assert vanished == {
        block(filtered).id: False,  # filtered out: the event is there
        block(gone).id: True,  # missing from a full read
        block(kept, "old-target").id: False,  # no rule writes into that calendar any more
    }


@pytest.mark.parametrize("seed", range(30))
def test_random_rules_over_one_source_give_at_most_one_block_per_event_and_target(seed):
    rng = random.Random(1000 + seed)
    events, existing, _, _ = random_calendar(rng)
    rules = [
        rule_spec(
            random_calendar(rng)[3],
            rng.sample(["t1", "t2", "t3"], rng.randint(1, 3)),
            rule_id=f"r{number}",
        )
        for number in range(rng.randint(1, 3))
    ]
    result = plan(rules=rules, events=events, existing=existing, key=KEY, full=True)

    latest = {source.id: source for source in events}
    created = Counter((c.event.id, c.target_calendar_id) for c in result.creates)
    assert all(count == 1 for count in created.values())
    doomed = {delete.block_id for delete in result.deletes}
    after = [b for b in existing if b.id not in doomed]
    slots = [(b.source_event_id, b.target_calendar_id) for b in after] + [
        (c.event.id, c.target_calendar_id) for c in result.creates
    ]
    assert len(slots) == len(set(slots))
    by_id = {b.id: b for b in existing}
    ranked = sorted(enumerate(rules), key=lambda pair: (privacy_rank(pair[1].options), pair[0]))
    for written in [*result.creates, *result.updates]:
        target = (
            written.target_calendar_id
            if isinstance(written, Create)
            else by_id[written.block_id].target_calendar_id
        )
        wanting = [
            rule
            for _, rule in ranked
            if target in rule.targets
            and skip_reason(
                latest[written.event.id], rule.options, window=WINDOW, known_block_event_ids=()
            )
            is None
        ]
        assert written.rule_id == wanting[0].id  # the most private rule that wants it
