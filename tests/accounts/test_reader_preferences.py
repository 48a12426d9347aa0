"""The week's first day and the clock a user chose in Settings, followed outside the portfolio:
the days of a rule's filter and of a booking page's weekly hours, and time labels."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from booking.forms import PageForm
from multical.lib import clock
from syncrules.forms import RuleForm

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("week_start", "first", "last"),
    [(1, "Monday", "Sunday"), (0, "Sunday", "Saturday"), (6, "Saturday", "Friday")],
)
def test_the_days_of_a_week_start_on_the_users_first_day(owner, week_start, first, last):
    owner.week_start = week_start

    rule_days = [name for _, name in RuleForm(user=owner).fields["weekdays"].choices]
    page_days = [field.label for field in PageForm(user=owner).weekday_fields()]

    for days in (rule_days, page_days):
        assert (days[0], days[-1], len(set(days))) == (first, last, 7)


def test_a_rule_limited_to_some_days_keeps_its_days_whatever_the_order(owner):
    owner.week_start = 0
    form = RuleForm(user=owner)

    # The ISO numbers stay the values: only the order shown changes.
    assert dict(form.fields["weekdays"].choices) == {
        1: "Monday",
        2: "Tuesday",
        3: "Wednesday",
        4: "Thursday",
        5: "Friday",
        6: "Saturday",
        7: "Sunday",
    }


def test_a_time_reads_on_the_active_clock_and_the_repeated_hour_says_which():
    afternoon = datetime(2030, 5, 6, 12, 5, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert clock.time_label(afternoon, berlin) == "14:05"
    with clock.override(12):
        assert clock.time_label(afternoon, berlin) == "2:05 pm"
        assert clock.time_label(datetime(2030, 5, 6, 22, 0, tzinfo=UTC), berlin) == "12:00 am"
        assert clock.time_label(afternoon, berlin, 24) == "14:05"  # a reader's own, given
    assert clock.current() == 24
    # 01:30 happens twice in New York on 3 November 2030 (daylight time ends).
    new_york = ZoneInfo("America/New_York")
    first, second = (
        datetime(2030, 11, 3, 5, 30, tzinfo=UTC),
        datetime(2030, 11, 3, 6, 30, tzinfo=UTC),
    )
    assert clock.time_label(first, new_york) == "01:30 (UTC-4)"
    assert clock.time_label(second, new_york) == "01:30 (UTC-5)"
