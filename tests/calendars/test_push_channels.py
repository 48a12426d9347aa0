"""Push channels stay alive for as long as a calendar feeds a rule: 30 simulated days against the
fake of Google's API, with the clock moved an hour at a time, never leave a calendar without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from calendars import tasks
from calendars.models import Calendar, Connection
from calendars.push import calendar_watch
from multical.lib import vault
from syncrules.models import SyncRule
from tests.factories import CalendarFactory, ConnectionFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def google_calendar(owner, google_fake):
    google_fake.add_calendar("family@example.com", "Family")
    secrets = google_fake.grant()
    connection = Connection(user=owner, kind=Connection.Kind.GOOGLE, label=secrets["email"])
    connection.secrets = vault.seal_json(secrets, context=vault.context_for(connection, "secrets"))
    connection.save()
    calendar = Calendar.objects.create(
        connection=connection, remote_id="family@example.com", name="Family"
    )
    rule = SyncRule.objects.create(user=owner, name="Family → Work")
    rule.sources.add(calendar)
    rule.targets.add(CalendarFactory(connection=ConnectionFactory(user=owner)))
    return calendar


def live_channels(google_fake, now: datetime) -> list:
    return [channel for channel in google_fake.channels.values() if channel.expiration > now]


def test_thirty_days_of_hourly_renewals_never_leave_a_gap(
    google_calendar, google_fake, run_tasks_inline
):
    with time_machine.travel(START, tick=False) as clock:
        for hour in range(30 * 24):
            now = START + timedelta(hours=hour)
            clock.move_to(now)
            with run_tasks_inline():
                tasks.renew_push_channels()
            assert live_channels(google_fake, now), f"no live channel at hour {hour}"
            assert len(live_channels(google_fake, now)) == 1, "replaced channels must be stopped"

    # Week-long channels replaced a day ahead: new ones on days 6, 12, 18 and 24, each old one stopped.
    assert len(google_fake.stopped_channels) == 4
    google_calendar.refresh_from_db()
    assert google_calendar.push_channel_id in google_fake.channels


def test_calendars_that_feed_no_rule_get_no_channel(owner, google_fake, run_tasks_inline):
    google_fake.add_calendar("idle@example.com", "Idle")
    secrets = google_fake.grant()
    connection = Connection(user=owner, kind=Connection.Kind.GOOGLE, label=secrets["email"])
    connection.secrets = vault.seal_json(secrets, context=vault.context_for(connection, "secrets"))
    connection.save()
    Calendar.objects.create(connection=connection, remote_id="idle@example.com", name="Idle")

    with run_tasks_inline():
        tasks.renew_push_channels()
    assert google_fake.channels == {}


def test_disconnecting_stops_the_channel(google_calendar, google_fake, run_tasks_inline):
    from calendars.services import connection_disconnect

    with run_tasks_inline():
        tasks.renew_push_channels()
    assert len(google_fake.channels) == 1
    with run_tasks_inline():
        connection_disconnect(connection=google_calendar.connection, ip_address=None)

    assert google_fake.channels == {}
    google_calendar.refresh_from_db()
    assert google_calendar.push_channel_id == ""


def test_a_replaced_channel_is_stopped_even_when_google_names_the_same_resource(
    google_calendar, google_fake
):
    calendar_watch(google_calendar)
    old_channel, old_resource = google_calendar.push_channel_id, google_calendar.push_resource_id

    calendar_watch(google_calendar)

    google_calendar.refresh_from_db()
    assert google_calendar.push_resource_id == old_resource  # Google's name for the calendar
    assert google_calendar.push_channel_id != old_channel
    assert google_fake.stopped_channels == [old_channel]
    assert list(google_fake.channels) == [google_calendar.push_channel_id]
