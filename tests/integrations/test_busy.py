"""Busy time from events: which events a policy counts, one span each, and merging them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.base import (
    BusyPolicy,
    EventStatus,
    Interval,
    RemoteEvent,
    Response,
    Transparency,
    Window,
    busy_intervals,
    merge_intervals,
)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)


def event(start: int, end: int, **fields) -> RemoteEvent:
    fields.setdefault("id", f"e{start}")
    return RemoteEvent(series_id="s", start=at(start), end=at(end), **fields)


WINDOW = Window(at(8), at(18))


def test_busy_time_is_one_span_per_event_clipped_in_time_order_and_not_merged():
    busy = busy_intervals(
        [
            event(16, 20),  # clipped at the end of the window
            event(9, 10),
            event(7, 9),  # clipped at its start; touches the next one, and stays apart
            event(9, 10, id="e9-again"),  # the same time twice (an invitation in two calendars)
            event(5, 8),  # ends where the window starts: nothing of it is inside
            event(12, 12),  # a moment takes no time
        ],
        WINDOW,
    )

    # Each span names the event that makes the time busy.
    assert busy == [
        Interval(at(8), at(9), event_id="e7"),
        Interval(at(9), at(10), event_id="e9"),
        Interval(at(9), at(10), event_id="e9-again"),
        Interval(at(16), at(18), event_id="e16"),
    ]


TENTATIVE = event(9, 10, status=EventStatus.TENTATIVE)
ANSWERED_TENTATIVE = event(9, 10, response=Response.TENTATIVE)
FREE = event(9, 10, transparency=Transparency.FREE)
ALL_DAY = event(0, 23, all_day=True)
FREE_ALL_DAY = event(0, 23, all_day=True, transparency=Transparency.FREE)
TENTATIVE_FREE = event(9, 10, status=EventStatus.TENTATIVE, transparency=Transparency.FREE)


@pytest.mark.parametrize(
    ("policy", "counted"),
    [
        (BusyPolicy(), {TENTATIVE, ANSWERED_TENTATIVE, ALL_DAY}),
        (BusyPolicy(tentative=False), {ALL_DAY}),
        (
            BusyPolicy(free=True),
            {TENTATIVE, ANSWERED_TENTATIVE, FREE, ALL_DAY, FREE_ALL_DAY, TENTATIVE_FREE},
        ),
        (BusyPolicy(free=True, tentative=False), {FREE, ALL_DAY, FREE_ALL_DAY}),
        (BusyPolicy(all_day=False), {TENTATIVE, ANSWERED_TENTATIVE}),
        (
            BusyPolicy(free=True, all_day=False),
            {TENTATIVE, ANSWERED_TENTATIVE, FREE, TENTATIVE_FREE},
        ),
    ],
)
def test_each_trait_counts_only_when_the_policy_lets_it(policy, counted):
    traits = [TENTATIVE, ANSWERED_TENTATIVE, FREE, ALL_DAY, FREE_ALL_DAY, TENTATIVE_FREE]

    assert {e for e in traits if policy.counts(e)} == counted


@pytest.mark.parametrize(
    "policy",
    [
        BusyPolicy(),
        BusyPolicy(tentative=True, free=True, all_day=True),
        BusyPolicy(False, False, False),
    ],
)
def test_plain_busy_events_always_count_and_declined_or_cancelled_ones_never(policy):
    assert policy.counts(event(9, 10))
    assert policy.counts(event(9, 10, response=Response.ACCEPTED))
    assert policy.counts(event(9, 10, response=Response.NEEDS_ACTION))
    assert not policy.counts(event(9, 10, response=Response.DECLINED))
    assert not policy.counts(event(9, 10, status=EventStatus.CANCELLED))
    assert not policy.counts(
        event(9, 10, status=EventStatus.CANCELLED, transparency=Transparency.FREE)
    )


def test_merging_joins_overlapping_and_touching_spans_from_intervals_or_pairs():
    spans = [
        Interval(at(9), at(10)),
        (at(8), at(9)),
        Interval(at(9, 30), at(9, 45)),
        Interval(at(12), at(12)),
        (at(14), at(15)),
    ]

    assert merge_intervals(spans) == [Interval(at(8), at(10)), Interval(at(14), at(15))]
