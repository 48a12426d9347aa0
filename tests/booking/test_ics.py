"""The attendee's invitation: parsed back with icalendar, field by field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import time_machine

from booking.ics import booking_ics, ics_mimetype
from booking.models import Booking, Profile
from booking.tokens import manage_url

pytestmark = pytest.mark.django_db

START = datetime(2030, 5, 6, 7, 30, tzinfo=UTC)


@pytest.fixture
def booking(owner) -> Booking:
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    return Booking.objects.create(
        owner=owner,
        title="Intro call",
        start=START,
        end=START + timedelta(minutes=30),
        attendee_name="Grace Hopper; Navy, Ret.",
        attendee_email="grace@attendee.example",
        attendee_time_zone="America/New_York",
        location="zoom",
        zoom_meeting_id="81234567890",
        meeting_url="https://zoom.example/j/81234567890",
        submission_key=uuid.uuid4().hex,
    )


def parsed(booking: Booking) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(booking_ics(booking))
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def cancel(booking: Booking) -> None:
    booking.status = Booking.Status.CANCELLED
    booking.cancelled_by = Booking.Actor.OWNER
    booking.sequence += 1
    booking.save()


def test_an_invitation_carries_every_field_the_attendees_calendar_needs(booking):
    with time_machine.travel(datetime(2030, 5, 1, 12, 0, tzinfo=UTC), tick=False):
        calendar, event = parsed(booking)

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    assert event["UID"] == f"booking-{booking.id}@testserver"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTAMP") == datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    assert event.decoded("DTSTART") == START
    assert event["DTSTART"].to_ical() == b"20300506T073000Z"  # in UTC, no zone to resolve
    assert event.decoded("DTEND") == START + timedelta(minutes=30)
    assert event["SUMMARY"] == "Intro call with Ada Host"
    assert event["DESCRIPTION"] == (
        "Intro call with Ada Host.\n"
        "Zoom meeting: https://zoom.example/j/81234567890\n"
        f"Change or cancel: {manage_url(booking)}"
    )
    assert event["LOCATION"] == "https://zoom.example/j/81234567890"
    assert event["STATUS"] == "CONFIRMED"
    assert event["ORGANIZER"] == "mailto:owner@example.com"
    assert event["ORGANIZER"].params["CN"] == "Ada Host"
    attendee = event["ATTENDEE"]
    assert attendee == "mailto:grace@attendee.example"
    assert attendee.params["CN"] == "Grace Hopper; Navy, Ret."  # quoted, not broken apart
    assert attendee.params["RSVP"] == "FALSE"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert ics_mimetype(booking) == "text/calendar; method=REQUEST"


def test_a_cancellation_keeps_the_uid_with_a_higher_sequence(booking):
    _, request = parsed(booking)
    cancel(booking)
    calendar, cancellation = parsed(booking)

    assert calendar["METHOD"] == "CANCEL"
    assert cancellation["UID"] == request["UID"]
    assert cancellation["SEQUENCE"] > request["SEQUENCE"]
    assert cancellation["STATUS"] == "CANCELLED"
    assert cancellation.decoded("DTSTART") == START
    assert manage_url(booking) not in cancellation["DESCRIPTION"]
    assert cancellation["ATTENDEE"] == "mailto:grace@attendee.example"
    assert ics_mimetype(booking) == "text/calendar; method=CANCEL"


def test_a_moved_booking_is_the_same_event_with_the_new_time(booking):
    _, first = parsed(booking)
    booking.start, booking.end = START + timedelta(days=1), START + timedelta(days=1, minutes=45)
    booking.sequence = 1
    booking.save()
    _, moved = parsed(booking)

    assert moved["UID"] == first["UID"]
    assert moved["SEQUENCE"] == 1
    assert moved.decoded("DTSTART") == START + timedelta(days=1)
    assert moved.decoded("DTEND") == START + timedelta(days=1, minutes=45)


@pytest.mark.parametrize(
    ("location", "detail"),
    [("phone", "+33 1 23 45 67 89"), ("in_person", "12 rue de la Paix, Paris")],
)
def test_the_location_is_the_phone_number_or_the_address(booking, location, detail):
    booking.location, booking.location_detail = location, detail
    booking.zoom_meeting_id = booking.meeting_url = ""

    _, event = parsed(booking)

    assert event["LOCATION"] == detail
    assert detail in event["DESCRIPTION"]


def test_an_owner_without_a_profile_is_named_by_their_address(booking):
    booking.owner.booking_profile.delete()
    booking = Booking.objects.select_related("owner").get(id=booking.id)

    _, event = parsed(booking)

    assert event["ORGANIZER"].params["CN"] == "owner@example.com"
    assert event["SUMMARY"] == "Intro call with owner@example.com"
