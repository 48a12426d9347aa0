"""Fixtures the booking tests share; each module that wants one names it (the follow-up's own
tests, for one, must run the real follow-up)."""

from __future__ import annotations

import pytest

from booking.models import Profile


@pytest.fixture
def follow_ups(monkeypatch) -> list[str]:
    """The follow-up of a booking (its Zoom meeting, calendar event and e-mails) is tested on its
    own, in test_follow_up.py; here it is only counted: the ids of the bookings it was asked for."""
    asked: list[str] = []
    monkeypatch.setattr(
        "booking.services.bookings.enqueue_follow_up",
        lambda booking_id: asked.append(str(booking_id)),
    )
    return asked


@pytest.fixture
def generous_rate_limits(settings):
    """Every test client comes from one address: the public pages' budgets for browsing and
    submitting are lifted (the rate-limit tests set their own)."""
    settings.BOOKING_BROWSE_RATE = "10000/m"
    settings.BOOKING_SUBMIT_RATE = "10000/m"


@pytest.fixture
def profile(owner) -> Profile:
    """The owner's public profile: their pages' links start with /book/ada/."""
    return Profile.objects.create(user=owner, handle="ada", display_name="Ada Lovelace")
