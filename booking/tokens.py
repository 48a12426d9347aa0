"""The token in an attendee's cancel and reschedule links.

It is an HMAC of the booking's id and its random 128-bit nonce under the server secret: the
database alone cannot produce a link (a leaked dump does not let anyone cancel meetings), and the
worker that sends the e-mails can always derive it again, so no token ever travels in a task
argument or sits in a table.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from booking.models import Booking

_SALT = "booking.manage-link"


def manage_token(booking: Booking) -> str:
    return salted_hmac(_SALT, f"{booking.id}:{booking.token_nonce}", algorithm="sha256").hexdigest()


def token_matches(booking: Booking, token: str) -> bool:
    return constant_time_compare(manage_token(booking), token)


def manage_path(booking: Booking, action: str = "manage") -> str:
    """The path of the attendee's page for this booking, or of its ``cancel``/``reschedule`` step."""
    return reverse(
        f"booking_public:{action}",
        kwargs={"booking_id": booking.id, "token": manage_token(booking)},
    )


def manage_url(booking: Booking) -> str:
    """The attendee's page for this booking (details, cancel, reschedule), absolute."""
    return settings.SITE_URL + manage_path(booking)


def cancel_url(booking: Booking) -> str:
    return settings.SITE_URL + manage_path(booking, "cancel")


def reschedule_url(booking: Booking) -> str:
    return settings.SITE_URL + manage_path(booking, "reschedule")
