"""Invariant 1 after using the portfolio: event content planted at every provider reaches the
signed-in user's browser and nothing else — no database row, cache entry or log line."""

from __future__ import annotations

import logging
from datetime import timedelta

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


WRITTEN = {
    "Work": ["WROTE-DAV-TITLE-5c1d", "WROTE-DAV-DESC-70ab", "WROTE-DAV-PLACE-e93f"],
    "Family": ["WROTE-GOO-TITLE-2f88", "WROTE-GOO-DESC-b41c", "WROTE-GOO-PLACE-0d6e"],
    "Outlook": ["WROTE-MS-TITLE-91e2", "WROTE-MS-DESC-44f7", "WROTE-MS-PLACE-c3a0"],
}


def test_what_the_user_writes_through_the_portfolio_is_kept_nowhere(
    mixed, owner_client, caplog, published, django_capture_on_commit_callbacks
):
    """Create, edit, move and delete on each provider: the content goes to the provider and back
    to the browser, and into no table, cache entry, log line or task argument."""
    caplog.set_level(logging.DEBUG)
    answers = []
    for name, (title, description, location) in WRITTEN.items():
        calendar = mixed.calendars[name]

        def url(action: str) -> str:
            return reverse(f"portfolio:{action}", args=[calendar.id])  # noqa: B023

        start = soon(2, 11)
        fields = {
            "title": title,
            "description": description,
            "location": location,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "time_zone": "Europe/Berlin",
        }
        with django_capture_on_commit_callbacks(execute=True):
            created = owner_client.post(url("event_create"), fields)
            assert created.status_code == 201, created.content
            event = created.json()
            answers.append(created.content.decode())
            ref = {"event": event["event"]["id"], "etag": event["etag"]}
            edited = owner_client.post(
                url("event_update"), {**fields, **ref, "title": f"{title}-EDITED"}
            )
            assert edited.status_code == 200, edited.content
            answers.append(owner_client.get(url("event"), {"event": ref["event"]}).content.decode())
            later = soon(3, 9)
            moved = owner_client.post(
                url("event_move"),
                {
                    "event": ref["event"],
                    "etag": edited.json()["etag"],
                    "start": later.isoformat(),
                    "end": (later + timedelta(hours=1)).isoformat(),
                },
            )
            assert moved.status_code == 200, moved.content
            removed = owner_client.post(
                url("event_remove"), {"event": ref["event"], "etag": moved.json()["etag"]}
            )
            assert removed.status_code == 200, removed.content

    assert published, "no sync was queued: the write paths did not announce their changes"
    for markers in WRITTEN.values():
        assert any(markers[0] in answer for answer in answers)  # it did reach the browser
        for marker in markers:
            for text in (marker, f"{marker}-EDITED"):
                assert database_text_containing(text) == [], text
                assert text.encode() not in redis_text(), text
                assert text not in caplog.text, text
                assert not any(text in message for message in published), text
