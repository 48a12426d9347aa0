"""The apps record their events in the transaction of the change: bookings made, moved and
cancelled through the real services, a connection that needs reconnecting, a held mass deletion
and a rule paused by the plan. Exactly one delivery per subscription that wants it, none for
anyone else's, none when the change is rolled back."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction

from booking.models import Booking, BookingPage
from booking.services.bookings import booking_cancel, booking_create, booking_reschedule
from calendars.models import Connection
from calendars.services import connection_record_error
from integrations.base import ProviderError
from syncrules.models import SyncRule
from syncrules.plan_limits import pause_beyond
from tests.booking.pages import at, days_ahead, make_host
from tests.syncrules.test_mass_deletion import EVENTS, delete_most, sync
from tests.syncrules.world import make_world, soon
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("follow_ups", "queued")]

HOOK = "http://127.0.0.1:9/hook"
ALL_BOOKING_EVENTS = ["booking.created", "booking.rescheduled", "booking.cancelled"]


@pytest.fixture
def follow_ups(monkeypatch):
    monkeypatch.setattr("booking.services.bookings.enqueue_follow_up", lambda booking_id: None)


def subscribe(user, events) -> WebhookSubscription:
    return services.subscription_create(user=user, url=HOOK, events=events)[0]


def bodies(subscription: WebhookSubscription) -> list[dict]:
    return [
        json.loads(body)
        for body in WebhookDelivery.objects.filter(subscription=subscription)
        .order_by("created_at")
        .values_list("body", flat=True)
    ]


def book(host, start, key="k1") -> Booking:
    return booking_create(
        page=host.page,
        start=start,
        duration=30,
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        attendee_time_zone="Europe/Berlin",
        answers=[{"question": "Topic", "answer": "Roadmap"}],
        submission_key=key,
    )


def test_a_booking_made_moved_and_cancelled_is_told_once_to_each_subscription_that_wants_it(
    radicale_server, owner, second_user
):
    host = make_host(radicale_server, owner, location=BookingPage.Location.PHONE)
    host.page.location_detail = "+49 30 1234567"
    host.page.save(update_fields=["location_detail"])
    every = subscribe(owner, ALL_BOOKING_EVENTS)
    created_only = subscribe(owner, ["booking.created"])
    unrelated = subscribe(owner, ["rule.paused"])
    someone_elses = subscribe(second_user, ALL_BOOKING_EVENTS)
    start = at(days_ahead(3), 10)

    booking = book(host, start)
    moved = booking_reschedule(booking=booking, start=start + timedelta(hours=2))
    booking_cancel(booking=moved, actor=Booking.Actor.ATTENDEE, reason="Something came up")
    booking_cancel(booking=moved)  # twice: nothing changes, nothing is told

    told = bodies(every)
    assert [body["type"] for body in told] == ALL_BOOKING_EVENTS
    assert [body["type"] for body in bodies(created_only)] == ["booking.created"]
    assert bodies(unrelated) == [] and bodies(someone_elses) == []
    made = told[0]["data"]["booking"]
    assert made == {
        "id": str(booking.id),
        "status": "confirmed",
        "title": "Intro call",
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
        "duration_minutes": 30,
        "page": {"id": str(host.page.id), "slug": "intro"},
        "team_page": None,
        "attendee": {
            "name": "Grace Guest",
            "email": "grace@example.com",
            "time_zone": "Europe/Berlin",
        },
        "answers": [{"question": "Topic", "answer": "Roadmap"}],
        "location": "phone",
        "created_at": made["created_at"],
        "cancelled_at": None,
        "cancelled_by": None,
        "cancel_reason": "",
    }
    assert "+49 30" not in json.dumps(told)  # the kind of place, never its details
    assert told[1]["data"]["previous"]["start"] == made["start"]
    assert told[1]["data"]["booking"]["start"] != made["start"]
    cancelled = told[2]["data"]["booking"]
    assert (cancelled["status"], cancelled["cancelled_by"], cancelled["cancel_reason"]) == (
        "cancelled",
        "attendee",
        "Something came up",
    )


def test_an_unlisted_pages_secret_never_reaches_a_payload(radicale_server, owner):
    host = make_host(radicale_server, owner, listed=False)
    subscription = subscribe(owner, ["booking.created"])
    book(host, at(days_ahead(3), 10))
    [body] = bodies(subscription)
    assert body["data"]["booking"]["page"]["slug"] == "intro"
    assert host.page.secret not in json.dumps(body)


def test_a_booking_rolled_back_is_never_told(radicale_server, owner):
    host = make_host(radicale_server, owner)
    subscription = subscribe(owner, ["booking.created"])

    with pytest.raises(RuntimeError), transaction.atomic():
        book(host, at(days_ahead(3), 10))
        raise RuntimeError("the request failed after booking")

    assert not Booking.objects.exists()
    assert bodies(subscription) == []


def test_a_connection_that_needs_reconnecting_is_told_once(radicale_server, owner):
    host = make_host(radicale_server, owner)
    subscription = subscribe(owner, ["connection.needs_reconnect"])
    connection = host.world.connection
    refused = ProviderError("The password was refused.", permanent=True)

    connection_record_error(connection=connection, error=refused)
    connection_record_error(connection=connection, error=refused)

    [body] = bodies(subscription)
    assert body["data"] == {
        "connection": {
            "id": str(connection.id),
            "provider": connection.kind,
            "status": Connection.Status.NEEDS_RECONNECT,
        }
    }
    assert "refused" not in json.dumps(body) and connection.label not in json.dumps(body)


def test_rules_paused_by_the_plan_are_told(radicale_server, owner):
    make_host(radicale_server, owner)
    subscription = subscribe(owner, ["rule.paused"])
    kept = SyncRule.objects.create(user=owner, name="Kept")
    paused = SyncRule.objects.create(user=owner, name="Paused beyond the limit")

    pause_beyond(owner, 1)

    [body] = bodies(subscription)
    assert body["data"]["rule"] == {"id": str(paused.id), "enabled": False}
    assert body["data"]["reason"] == "plan_limit"
    assert str(kept.id) not in json.dumps(body)


def test_a_held_mass_deletion_is_told_once_when_the_hold_begins(
    radicale_server, owner, enqueued, settings
):
    settings.MASS_DELETION_CONFIRM_SECONDS = 120
    world = make_world(radicale_server, owner, ["Work", "Personal"])
    world.rule(["Personal"], ["Work"])
    for number in range(EVENTS):
        world.put("Personal", f"event-{number}", soon(1 + number % 20, 8 + number % 9))
    sync(world)
    subscription = subscribe(owner, ["sync.deletions_held"])

    delete_most(world)
    sync(world)
    sync(world)  # the hold goes on: not told again

    [body] = bodies(subscription)
    personal = world.calendars["Personal"]
    data = body["data"]
    assert data["calendar"] == {
        "id": str(personal.id),
        "connection_id": str(personal.connection_id),
        "provider": "caldav",
    }
    assert data["deletions_held"] == 36
    assert data["held_at"] < data["confirm_after"]
    assert "event-" not in json.dumps(body) and "Personal" not in json.dumps(body)
