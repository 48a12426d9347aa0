"""Adding a booking to the attendee's own calendar: the .ics download behind their manage token,
and the links to Google Calendar's and Outlook's new-event forms, read back parameter by
parameter."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from django.test import Client

from booking.ics import ics_uid
from booking.models import Booking, BookingPage, Profile
from booking.public_calendar import calendar_links
from booking.services.bookings import booking_cancel
from booking.tokens import manage_path, manage_token, manage_url

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("follow_ups", "generous_rate_limits"),
]

# 09:30 in Paris, 03:30 in New York, where the attendee is: the links carry neither.
START = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)
TITLE = "Q&A #1: 50% off? / plans"


@pytest.fixture
def booking(owner) -> Booking:
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    page = BookingPage.objects.create(
        owner=owner, title=TITLE, slug="qa", listed=True, durations=[45], time_zone="Europe/Paris"
    )
    return Booking.objects.create(
        owner=owner,
        page=page,
        title=TITLE,
        start=START,
        end=START + timedelta(minutes=45),
        attendee_name="Grace Hopper",
        attendee_email="grace@attendee.example",
        attendee_time_zone="America/New_York",
        attendee_clock=12,
        location=BookingPage.Location.IN_PERSON,
        location_detail="Rue de Rivoli 1, 75001 Paris & courtyard",
        submission_key=uuid.uuid4().hex,
    )


def query(link: str) -> dict[str, str]:
    values = parse_qs(urlsplit(link).query, keep_blank_values=True, strict_parsing=True)
    assert all(len(value) == 1 for value in values.values()), values
    return {name: value[0] for name, value in values.items()}


def test_the_google_link_carries_the_times_in_utc_and_every_word_intact(booking):
    link = calendar_links(booking).google

    assert link.startswith("https://calendar.google.com/calendar/render?")
    params = query(link)
    assert params["action"] == "TEMPLATE"
    assert params["dates"] == "20300506T073000Z/20300506T081500Z"
    assert params["text"] == f"{TITLE} with Ada Host"
    assert params["location"] == "Rue de Rivoli 1, 75001 Paris & courtyard"
    assert params["details"].startswith(f"{TITLE} with Ada Host.\nIn person: Rue de Rivoli")
    assert manage_url(booking) in params["details"]
    # Nothing of the title escapes its parameter: no raw &, #, + or space in the address.
    raw = urlsplit(link).query
    assert " " not in link and "#" not in link and "+" not in raw
    assert "Q%26A%20%231%3A%2050%25%20off%3F" in raw


@pytest.mark.parametrize(
    "base",
    [
        "https://outlook.live.com/calendar/0/deeplink/compose?",
        "https://outlook.office.com/calendar/0/deeplink/compose?",
    ],
)
def test_the_outlook_links_carry_the_times_in_utc_and_every_word_intact(booking, base):
    links = calendar_links(booking)
    (link,) = [link for link in (links.outlook, links.office) if link.startswith(base)]

    params = query(link)
    assert params["path"] == "/calendar/action/compose"
    assert params["rru"] == "addevent"
    assert params["startdt"] == "2030-05-06T07:30:00Z"
    assert params["enddt"] == "2030-05-06T08:15:00Z"
    assert params["subject"] == f"{TITLE} with Ada Host"
    assert params["location"] == "Rue de Rivoli 1, 75001 Paris & courtyard"
    assert manage_url(booking) in params["body"]
    assert "+" not in urlsplit(link).query  # Outlook would show a "+" where a space was


def test_the_links_are_worded_in_the_language_the_attendee_booked_in(booking):
    booking.language = "de"

    params = query(calendar_links(booking).google)

    assert params["text"] == f"{TITLE} mit Ada Host"
    assert "Ändern oder absagen: " in params["details"]


def test_a_meeting_without_a_place_has_no_location_parameter(booking):
    booking.location, booking.location_detail = BookingPage.Location.NONE, ""

    links = calendar_links(booking)

    for link in (links.google, links.outlook, links.office):
        assert "location" not in query(link)


def test_the_confirmation_and_the_manage_page_offer_all_three_ways(booking, client):
    session = client.session
    session["booking:made"] = [str(booking.id)]
    session.save()
    links = calendar_links(booking)

    for url in (f"/book/ada/qa/booked/{booking.id}/", manage_path(booking)):
        text = client.get(url).text
        hrefs = {html.unescape(href) for href in re.findall(r'href="([^"]+)"', text)}
        assert {links.google, links.outlook, links.office, links.download} <= hrefs, url
        assert re.search(rf'href="{re.escape(links.download)}" download>', text), url
        assert "Add it to your calendar" in text, url


def test_a_cancelled_or_past_booking_offers_no_calendar_links(booking, client):
    booking_cancel(booking=booking)

    text = client.get(manage_path(booking)).text

    assert "Add it to your calendar" not in text
    assert "calendar.google.com" not in text


def test_the_calendar_file_is_the_event_published_for_whoever_has_the_link(booking):
    response = Client().get(calendar_links(booking).download)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; method=PUBLISH; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Content-Disposition"].endswith('.ics"')
    assert "no-store" in response["Cache-Control"]
    calendar = icalendar.Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "PUBLISH"
    assert event["UID"] == ics_uid(booking)  # the e-mailed invitation's: one event, not two
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + timedelta(minutes=45)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "ATTENDEE" not in event  # a published event names no one to answer it
    assert str(event["ORGANIZER"]) == f"mailto:{booking.owner.email}"


def test_the_calendar_file_of_a_cancelled_booking_cancels_it(booking):
    booking_cancel(booking=booking)

    response = Client().get(calendar_links(booking).download)

    calendar = icalendar.Calendar.from_ical(response.content)
    assert calendar["METHOD"] == "CANCEL"
    assert str(next(iter(calendar.walk("VEVENT")))["STATUS"]) == "CANCELLED"


def test_the_calendar_file_needs_the_bookings_own_token(booking, second_user):
    token = manage_token(booking)
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    other = Booking.objects.create(
        owner=second_user,
        title="Other",
        start=START + timedelta(days=1),
        end=START + timedelta(days=1, minutes=30),
        attendee_name="Someone",
        attendee_email="someone@example.com",
        location=BookingPage.Location.NONE,
        submission_key="other",
    )
    visitor = Client()

    assert visitor.get(f"/bookings/{booking.id}/{forged}/booking.ics").status_code == 404
    assert visitor.get(f"/bookings/{booking.id}/{'0' * 64}/booking.ics").status_code == 404
    assert visitor.get(f"/bookings/{other.id}/{token}/booking.ics").status_code == 404
    assert visitor.post(f"/bookings/{booking.id}/{token}/booking.ics").status_code == 405
    assert visitor.get(f"/bookings/{booking.id}/{token}/booking.ics").status_code == 200
