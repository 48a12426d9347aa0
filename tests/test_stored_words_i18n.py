"""What Python and the database tell an owner reads in the owner's language: a connection's and a
calendar's last error, a sync run's error, a booking's follow-up problems, the kinds of account and
their state, on every page that shows them and in the e-mails. The errors are kept as they were
raised (an English message and its values), so each reader gets their own language at display
time, and rows kept before the values were stored apart still read."""

from __future__ import annotations

import uuid
from datetime import timedelta
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from booking.models import Booking, Profile, problem_text
from booking.services import follow_up
from calendars.models import Calendar, Connection
from integrations.base import ProviderError
from integrations.wording import error_text
from syncrules import engine
from syncrules.models import SyncRule, SyncRun
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.world import event_ics, soon

pytestmark = pytest.mark.django_db

CALENDARS = reverse("calendars:calendar_list")
DASHBOARD = reverse("dashboard")
REFUSED = {
    "en": "The link was refused (HTTP 404). Check that it is still shared.",
    "de": "Der Link wurde abgelehnt (HTTP 404). Prüfen Sie, ob er noch freigegeben ist.",
}
READ_ONLY = {"en": "iCal links are read-only.", "de": "iCal-Links sind schreibgeschützt."}
NO_ZOOM = {
    "en": "The Zoom meeting was not created: Zoom is not connected (or needs reconnecting).",
    "de": "Das Zoom-Meeting wurde nicht angelegt: Zoom ist nicht verbunden (oder muss neu "
    "verbunden werden).",
}
NO_EVENT = {
    "en": "The event in Work was not written: Office needs reconnecting.",
    "de": "Der Termin im Kalender „Work“ wurde nicht eingetragen: Office muss neu verbunden werden.",
}


@pytest.fixture(params=["en", "de"])
def language(request, owner) -> str:
    """The language the owner chose in Settings."""
    owner.language = request.param
    owner.save(update_fields=["language"])
    return request.param


def text(response) -> str:
    assert response.status_code == 200
    return " ".join(unescape(response.content.decode()).split())


def feed_calendar(owner, feed, name: str) -> Calendar:
    connection = ConnectionFactory(
        user=owner,
        kind=Connection.Kind.ICS,
        label=f"{name} feed",
        server_url="",
        username="",
        secrets={"url": feed.url},
    )
    return CalendarFactory(connection=connection, remote_id="feed", name=name, read_only=True)


def copying(owner, source: Calendar, target: Calendar) -> SyncRule:
    rule = SyncRule.objects.create(user=owner, name="Feed into work")
    rule.sources.set([source])
    rule.targets.set([target])
    return rule


def test_a_refused_link_reads_in_the_owners_language_on_each_page_and_in_the_email(
    language, owner, owner_client, feed, django_capture_on_commit_callbacks
):
    holidays = feed_calendar(owner, feed, "Holidays")
    copying(owner, holidays, CalendarFactory(connection=ConnectionFactory(user=owner)))
    feed.status = 404

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ProviderError):
        engine.sync_source_calendar(holidays)

    holidays.refresh_from_db()
    connection = holidays.connection
    # Kept as raised, in no language: the message and its values apart.
    assert connection.status == Connection.Status.NEEDS_RECONNECT
    assert connection.last_error == (
        "The link was refused (HTTP %(status)s). Check that it is still shared."
    )
    assert connection.last_error_params == holidays.last_error_params == {"status": 404}
    expected = REFUSED[language]
    assert expected in text(owner_client.get(CALENDARS))
    assert expected in text(owner_client.get(DASHBOARD))
    detail = text(owner_client.get(reverse("syncrules:calendar_detail", args=[holidays.id])))
    assert detail.count(expected) == 2  # the calendar's own error and its account's
    (message,) = mail.outbox
    html = unescape(message.alternatives[0][0])
    assert expected in message.body and expected in html
    assert (
        "Multical erreicht Holidays feed nicht mehr"
        if language == "de"
        else "Multical can no longer reach Holidays feed"
    ) == message.subject
    other = REFUSED["en" if language == "de" else "de"]
    assert other not in text(owner_client.get(CALENDARS))


def test_a_sync_runs_error_reads_in_the_owners_language(
    language, owner, owner_client, feed, django_capture_on_commit_callbacks
):
    start = soon(2, 10)
    feed.serve(event_ics("standup", start).encode())
    source = feed_calendar(owner, feed, "Team")
    # A rule made by hand (the form refuses read-only targets): every block it writes is refused.
    rule = copying(owner, source, feed_calendar(owner, feed, "Holidays"))

    with django_capture_on_commit_callbacks(execute=True):
        engine.sync_source_calendar(source)

    run = SyncRun.objects.get(rule=rule)
    assert (run.error, run.error_params) == ("iCal links are read-only.", {})
    expected = READ_ONLY[language]
    assert expected in text(owner_client.get(DASHBOARD))
    assert expected in text(owner_client.get(reverse("syncrules:rule_detail", args=[rule.id])))


def test_a_bookings_follow_up_problems_read_in_the_owners_language_on_its_page_and_email(
    language, owner, owner_client
):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    office = ConnectionFactory(user=owner, label="Office", status=Connection.Status.NEEDS_RECONNECT)
    start = soon(3, 14)
    booking = Booking.objects.create(
        owner=owner,
        title="Intro call",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace Hopper",
        attendee_email="grace@attendee.example",
        location="zoom",
        calendar=CalendarFactory(connection=office, name="Work"),
        submission_key=uuid.uuid4().hex,
    )

    follow_up.booking_follow_up(booking_id=booking.id)

    booking.refresh_from_db()
    # No names of events, no language: messages, their values, and the reasons they give.
    assert booking.follow_up_problems == [
        {
            "message": "The Zoom meeting was not created: %(reason)s.",
            "params": {},
            "reason": {"message": "Zoom is not connected (or needs reconnecting).", "params": {}},
        },
        {
            "message": "The event in %(calendar)s was not written: %(reason)s.",
            "params": {"calendar": "Work"},
            "reason": {
                "message": "%(account)s needs reconnecting.",
                "params": {"account": "Office"},
            },
        },
    ]
    page = text(owner_client.get(reverse("booking:booking_detail", args=[booking.id])))
    assert NO_ZOOM[language] in page
    assert NO_EVENT[language] in page
    (to_owner,) = [message for message in mail.outbox if message.to == [owner.email]]
    for expected in (NO_ZOOM[language], NO_EVENT[language]):
        assert expected in to_owner.body
        assert expected in unescape(to_owner.alternatives[0][0])


def test_the_kinds_of_account_and_a_working_ones_state_read_in_the_owners_language(
    language, owner, owner_client
):
    ConnectionFactory(user=owner, label="ada @ dav.example.com")
    ConnectionFactory(
        user=owner, kind=Connection.Kind.ICS, label="Team feed", server_url="", username=""
    )

    page = text(owner_client.get(CALENDARS))

    words = {
        "en": ("CalDAV server", "iCal link", "Connected"),
        "de": ("CalDAV-Server", "iCal-Link", "Verbunden"),
    }[language]
    for word in words:
        assert word in page
    assert ">OK<" not in owner_client.get(CALENDARS).content.decode()


def test_an_error_kept_before_its_values_were_still_reads(language, owner, owner_client):
    """Rows from before: the English words alone. A message the catalogues know is translated;
    any other is shown as it was kept."""
    ConnectionFactory(
        user=owner,
        label="ada @ dav.example.com",
        status=Connection.Status.NEEDS_RECONNECT,
        last_error="The server refused the user name or password.",
    )
    ConnectionFactory(
        user=owner,
        label="old @ dav.example.com",
        status=Connection.Status.ERROR,
        last_error="The CalDAV server had a problem (HTTP 502).",
    )

    page = text(owner_client.get(CALENDARS))

    assert {
        "en": "The server refused the user name or password.",
        "de": "Der Server hat den Benutzernamen oder das Passwort abgelehnt.",
    }[language] in page
    assert "The CalDAV server had a problem (HTTP 502)." in page
    with translation.override(language):
        assert problem_text({"message": "The Zoom meeting was not created: it was old."}) == (
            "The Zoom meeting was not created: it was old."
        )


def test_a_provider_refusal_on_a_form_reads_in_the_readers_language(language, owner_client, feed):
    feed.status = 404

    response = owner_client.post(reverse("calendars:connect_ics"), {"url": feed.url, "label": ""})

    assert REFUSED[language] in text(response)


def test_an_oauth_error_page_reads_in_the_readers_language(language, owner_client, settings):
    settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "client-id", "client-secret"

    response = owner_client.get(
        reverse("calendars_oauth:google_callback"), {"state": "forged", "code": "x"}
    )

    assert response.status_code == 400
    assert {
        "en": "This connection attempt is no longer valid",
        "de": "Dieser Verbindungsversuch ist nicht mehr gültig",
    }[language] in unescape(response.content.decode())


def test_numbers_in_an_error_are_written_the_readers_way():
    error = ProviderError(
        "This calendar has more than %(limit)s events in the period being read; sync fewer "
        "days ahead.",
        permanent=False,
        params={"limit": 10_000},
    )

    assert "more than 10,000 events" in error.message  # the English, for logs
    with translation.override("en"):
        assert "more than 10,000 events" in error_text(error)
    with translation.override("de"):
        assert "mehr als 10.000 Termine" in error_text(error)
