"""Invariant 1 after using the portfolio: event content planted at every provider reaches the
signed-in user's browser and nothing else — no database row, cache entry or log line."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from tests.syncrules.test_privacy import database_text_containing, redis_text
from tests.syncrules.world import soon

pytestmark = pytest.mark.django_db

CALDAV = ["PLANTED-DAV-TITLE-81c2", "PLANTED-DAV-DESC-0f3e", "PLANTED-DAV-PLACE-9a7d"]
GOOGLE = ["PLANTED-GOO-TITLE-4b6a", "PLANTED-GOO-DESC-e21c", "PLANTED-GOO-PLACE-57d0"]
OUTLOOK = ["PLANTED-MS-TITLE-c8e4", "PLANTED-MS-DESC-3d19", "PLANTED-MS-PLACE-a06b"]
GUEST = "planted-guest-7e55"


def test_planted_content_reaches_only_the_users_browser(mixed, owner_client, caplog):
    caplog.set_level(logging.DEBUG)
    mixed.caldav_event(
        "Work",
        "planted",
        soon(1, 10),
        title=CALDAV[0],
        description=CALDAV[1],
        location=CALDAV[2],
        extra=f"ATTENDEE;CN=Guest:mailto:{GUEST}@example.com",
    )
    mixed.google_event(
        GOOGLE[0],
        soon(2, 10),
        description=GOOGLE[1],
        location=GOOGLE[2],
        attendees=[{"email": f"{GUEST}@example.com"}],
    )
    mixed.outlook_event(
        OUTLOOK[0],
        soon(3, 10),
        body={"contentType": "html", "content": f"<p>{OUTLOOK[1]}</p>"},
        location=OUTLOOK[2],
    )
    week = {"start": soon(0, 0).isoformat(), "end": soon(7, 0).isoformat()}
    events = reverse("portfolio:events")

    page = owner_client.get(reverse("portfolio:portfolio"))
    shown = owner_client.get(events, week).content.decode()
    # Every path a read can take: a preference change, a hidden calendar, a failing provider.
    owner_client.post(
        reverse("portfolio:calendar_preference", args=[mixed.calendars["Personal"].id]),
        {"shown": "0", "color": "#123456"},
    )
    owner_client.get(events, week)
    mixed.google.fail_next(3, status=500)
    failed = owner_client.get(events, week).json()

    assert page.status_code == 200
    for marker in (CALDAV[0], CALDAV[2], GOOGLE[0], GOOGLE[2], OUTLOOK[0], OUTLOOK[2]):
        assert marker in shown, marker  # the content did travel to where it belongs
    assert [failure["calendar"]["name"] for failure in failed["failures"]] == ["Family"]
    stored_redis = redis_text()
    for marker in [*CALDAV, *GOOGLE, *OUTLOOK, GUEST]:
        assert database_text_containing(marker) == [], marker
        assert marker.encode() not in stored_redis, marker
        assert marker not in caplog.text, marker
    # Descriptions are not even sent to the browser: the page never shows them.
    assert not any(marker in shown for marker in (CALDAV[1], GOOGLE[1], OUTLOOK[1], GUEST))
    # The search can find things: a calendar's name is ours to store.
    assert database_text_containing(mixed.calendars["Family"].remote_id) != []
