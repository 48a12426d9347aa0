"""Home: what needs mending first, then rules with their last run, the next bookings, meetings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import Booking
from calendars.models import Connection
from syncrules.models import SyncRule, SyncRun
from tests.factories import CalendarFactory, ConnectionFactory

pytestmark = pytest.mark.django_db


def home(client) -> str:
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def booking(owner, *, title: str, days: int, **fields: object) -> Booking:
    start = timezone.now() + timedelta(days=days)
    return Booking.objects.create(
        owner=owner,
        title=title,
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        location="none",
        submission_key=title,
        **fields,
    )


def test_a_new_user_sees_the_first_steps(owner_client):
    html = home(owner_client)
    assert "Connect your calendars" in html
    assert "Needs your attention" not in html


def test_a_connection_that_needs_reconnecting_comes_first_with_its_button(owner, owner_client):
    ConnectionFactory(user=owner, label="Work iCloud", status=Connection.Status.OK)
    ConnectionFactory(
        user=owner,
        label="Fastmail",
        status=Connection.Status.NEEDS_RECONNECT,
        last_error="The server refused the password.",
    )
    ConnectionFactory(
        user=owner, kind=Connection.Kind.GOOGLE, label="me@gmail.com", status="needs_reconnect"
    )

    html = home(owner_client)

    attention = html.split('id="attention"')[1].split("</section>")[0]
    assert "Fastmail" in attention and "The server refused the password." in attention
    assert "Work iCloud" not in attention
    assert "Enter the password again" in attention
    assert reverse("calendars_oauth:google_connect") in attention
    assert html.index('id="attention"') < html.index('id="home-rules"')


def test_healthy_connections_are_summed_up_in_one_line(owner, owner_client):
    ConnectionFactory(user=owner)
    assert "Your connection is working." in home(owner_client)
    ConnectionFactory(user=owner)
    assert "Both your connections are working." in home(owner_client)
    ConnectionFactory(user=owner)
    assert "All 3 of your connections are working." in home(owner_client)


def test_rules_show_their_last_run(owner, owner_client):
    calendar = CalendarFactory(connection=ConnectionFactory(user=owner))
    rule = SyncRule.objects.create(user=owner, name="Work blocks home")
    SyncRun.objects.create(rule=rule, source_calendar=calendar, created=3, updated=1, deleted=2)
    failing = SyncRule.objects.create(user=owner, name="Clients block work")
    SyncRun.objects.create(rule=failing, error="The calendar server did not answer.")

    html = home(owner_client)

    assert "Work blocks home" in html
    assert "3 created, 1 updated, 2 removed" in html
    assert "Last run failed" in html and "The calendar server did not answer." in html


def test_the_next_bookings_are_the_coming_confirmed_ones_of_this_user(
    owner, second_user, owner_client
):
    ConnectionFactory(user=owner)
    booking(owner, title="Soon", days=1)
    booking(owner, title="Later", days=3)
    booking(owner, title="Over", days=-2)
    booking(
        owner, title="Called off", days=2, status=Booking.Status.CANCELLED, cancelled_by="owner"
    )
    booking(second_user, title="Not mine", days=1)

    html = home(owner_client).split('id="home-bookings"')[1].split("</section>")[0]

    assert html.index("Soon with Grace Guest") < html.index("Later with Grace Guest")
    for absent in ("Over", "Called off", "Not mine"):
        assert absent not in html


def test_the_next_meetings_come_from_the_portfolio_feed(owner, owner_client):
    ConnectionFactory(user=owner)
    assert f'data-source="{reverse("portfolio:events")}"' in home(owner_client)


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
