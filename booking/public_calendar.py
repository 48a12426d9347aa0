"""Ways for an attendee to put their booking in their own calendar: the event as a file to download
(``booking.ics``, at a link that carries their manage token), and links that open Google
Calendar's or Outlook's new-event form filled in.

Times go to both in UTC, each in the form it reads (Google's ``dates`` as
``YYYYMMDDTHHMMSSZ/YYYYMMDDTHHMMSSZ``, Outlook's ``startdt``/``enddt`` as ISO 8601 ending in
``Z``), so the calendar shows them in whatever zone its owner is in. The words are the
invitation's own, in the language the attendee booked in. Neither service documents these links;
the parameters are the ones they have long answered to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from django.urls import reverse
from django.utils import translation

from booking.ics import description, meeting_words, where
from booking.models import Booking
from booking.tokens import manage_token

GOOGLE_CALENDAR = "https://calendar.google.com/calendar/render"
OUTLOOK_COM = "https://outlook.live.com/calendar/0/deeplink/compose"
OFFICE_365 = "https://outlook.office.com/calendar/0/deeplink/compose"


@dataclass(frozen=True, slots=True)
class CalendarLinks:
    download: str  # the .ics, a path on this site
    google: str
    outlook: str
    office: str


def calendar_links(booking: Booking) -> CalendarLinks:
    with translation.override(booking.language):
        title, details = meeting_words(booking), description(booking)
    location = where(booking)
    return CalendarLinks(
        download=calendar_file_path(booking),
        google=google_link(booking, title=title, details=details, location=location),
        outlook=outlook_link(OUTLOOK_COM, booking, title=title, details=details, location=location),
        office=outlook_link(OFFICE_365, booking, title=title, details=details, location=location),
    )


def calendar_file_path(booking: Booking) -> str:
    return reverse(
        "booking_public:calendar_file",
        kwargs={"booking_id": booking.id, "token": manage_token(booking)},
    )


def google_link(booking: Booking, *, title: str, details: str, location: str) -> str:
    dates = f"{_basic_utc(booking.start)}/{_basic_utc(booking.end)}"
    params = {"action": "TEMPLATE", "text": title, "dates": dates, "details": details}
    return _link(GOOGLE_CALENDAR, params, location)


def outlook_link(base: str, booking: Booking, *, title: str, details: str, location: str) -> str:
    """Outlook.com's (``OUTLOOK_COM``) or a work or school account's (``OFFICE_365``) form."""
    params = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": title,
        "startdt": _extended_utc(booking.start),
        "enddt": _extended_utc(booking.end),
        "body": details,
    }
    return _link(base, params, location)


def _link(base: str, params: dict[str, str], location: str) -> str:
    """Every value percent-encoded (a space as %20: Outlook shows a "+" as it is)."""
    if location:
        params = {**params, "location": location}
    return f"{base}?{urlencode(params, quote_via=quote)}"


def _basic_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _extended_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
