"""The iCalendar invitation an attendee receives with each booking e-mail, and the file they can
download from their booking's pages.

One VEVENT whose UID never changes for a booking, so the attendee's calendar program replaces its
copy: ``METHOD:REQUEST`` while the booking stands (a reschedule is the same UID with a higher
SEQUENCE), ``METHOD:CANCEL`` once it is cancelled. The attendee has already accepted by booking,
so no answer is asked for (``RSVP=FALSE``, ``PARTSTAT=ACCEPTED``). The downloaded file is the same
event published (``METHOD:PUBLISH``, which names no attendee, RFC 5546 3.2.1): a calendar program
imports it as an event of the attendee's own rather than an invitation to answer. Its words are in
the language the attendee booked in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress

from accounts.models import User
from booking.models import Booking, BookingPage
from booking.tokens import manage_url

PRODID = "-//Multical//Booking pages//EN"
REQUEST = "REQUEST"
CANCEL = "CANCEL"
PUBLISH = "PUBLISH"


def ics_method(booking: Booking) -> str:
    return CANCEL if booking.is_cancelled else REQUEST


def ics_uid(booking: Booking) -> str:
    return f"booking-{booking.id}@{urlsplit(settings.SITE_URL).hostname or 'multical'}"


def ics_mimetype(booking: Booking, *, download: bool = False) -> str:
    method = ics_method(booking)
    if download and method == REQUEST:
        method = PUBLISH
    return f"text/calendar; method={method}"


def host_name(booking: Booking) -> str:
    """How the owner is named to attendees: their public display name, else their address. A
    collective team booking names everyone the attendee meets, the lead first."""
    hosts = [booking.owner]
    if booking.team_page_id is not None and booking.team_lead_id is None:
        seats = booking.team_seats.exclude(status=Booking.Status.CANCELLED).order_by("id")
        hosts += [seat.owner for seat in seats.select_related("owner__booking_profile")]
    return ", ".join(_one_name(host) for host in hosts)


def _one_name(user: User) -> str:
    profile = getattr(user, "booking_profile", None)
    return profile.display_name if profile and profile.display_name else user.email


def where(booking: Booking) -> str:
    """Where the meeting happens: the meeting link, the phone number or the address."""
    if booking.location == BookingPage.Location.ZOOM:
        return booking.meeting_url
    return booking.location_detail


def booking_ics(booking: Booking, *, download: bool = False) -> bytes:
    """The attendee's invitation (or its cancellation) for the booking as it is now; with
    ``download``, a standing booking is published instead, for the attendee to import."""
    method = ics_method(booking)
    if download and method == REQUEST:
        method = PUBLISH
    with translation.override(booking.language):
        return _booking_ics(booking, method)


def _booking_ics(booking: Booking, method: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", ics_uid(booking))
    event.add("sequence", booking.sequence)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", booking.start.astimezone(UTC))
    event.add("dtend", booking.end.astimezone(UTC))
    event.add("summary", meeting_words(booking))
    event.add("description", description(booking))
    location = where(booking)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if method == CANCEL else "CONFIRMED")
    event.add("transp", "OPAQUE")

    organizer = vCalAddress(f"mailto:{booking.owner.email}")
    organizer.params["CN"] = host_name(booking)
    event.add("organizer", organizer)
    if method != PUBLISH:
        attendee = vCalAddress(f"mailto:{booking.attendee_email}")
        attendee.params["CN"] = booking.attendee_name
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendee.params["PARTSTAT"] = "ACCEPTED"
        attendee.params["RSVP"] = "FALSE"
        event.add("attendee", attendee)

    calendar.add_component(event)
    return calendar.to_ical()


def meeting_words(booking: Booking) -> str:
    """The event's title, in the active language: "Intro call with Ada Host"."""
    return _("%(title)s with %(host)s") % {"title": booking.title, "host": host_name(booking)}


def description(booking: Booking) -> str:
    """The event's description, in the active language: what, where, and the attendee's link to
    change or cancel it; for a cancelled booking, that it was cancelled."""
    if booking.is_cancelled:
        return _("%(meeting)s was cancelled.") % {"meeting": meeting_words(booking)}
    lines = [f"{meeting_words(booking)}."]
    location = where(booking)
    if location:
        lines.append(f"{booking.get_location_display()}: {location}")
    lines.append(_("Change or cancel: %(url)s") % {"url": manage_url(booking)})
    return "\n".join(lines)
