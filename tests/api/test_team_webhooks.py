"""A team booking is told to each member's webhooks for the booking they hold (their seat), made,
moved and cancelled, as a personal booking is told to its owner's; nobody else hears of it.
(Deliveries are recorded in the change's transaction: ``tests/webhooks/test_emitters.py``.)"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from booking.models import Booking, TeamPage
from booking.services.bookings import booking_cancel
from booking.services.teams import team_booking_create, team_booking_reschedule
from tests.booking.pages import at, days_ahead
from tests.booking.team_world import make_team
from webhooks import services
from webhooks.events import rfc3339
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("follow_ups", "queued")]

HOOK = "http://127.0.0.1:9/hook"
EVERY = ["booking.created", "booking.rescheduled", "booking.cancelled"]


@pytest.fixture
def follow_ups(monkeypatch):
    for where in ("booking.services.teams", "booking.services.bookings"):
        monkeypatch.setattr(f"{where}.enqueue_follow_up", lambda booking_id: None)


@pytest.fixture
def queued(monkeypatch):
    from webhooks.tasks import deliver_webhook

    monkeypatch.setattr(deliver_webhook, "delay", lambda delivery_id: None)
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **options: None)


def subscribe(user) -> WebhookSubscription:
    return services.subscription_create(user=user, url=HOOK, events=EVERY)[0]


def told(subscription: WebhookSubscription) -> list[tuple[str, str, str]]:
    """(event, booking id, status) of each delivery, in order."""
    found = []
    for body in (
        WebhookDelivery.objects.filter(subscription=subscription)
        .order_by("created_at")
        .values_list("body", flat=True)
    ):
        event = json.loads(body)
        booking = event["data"]["booking"]
        found.append((event["type"], booking["id"], booking["status"]))
    return found


def book(page: TeamPage, start, key: str = "k1") -> Booking:
    return team_booking_create(
        page=page,
        start=start,
        duration=30,
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        attendee_time_zone="UTC",
        submission_key=key,
    )


def test_each_member_of_a_collective_booking_hears_of_their_own_seat(radicale_server, outsider):
    team = make_team(radicale_server)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    hooks = {user.id: subscribe(user) for user in team.users}
    stranger = subscribe(outsider)
    start = at(days_ahead(5), 10)

    lead = book(page, start)
    team_booking_reschedule(booking=lead, start=start + timedelta(hours=2))
    booking_cancel(booking=lead, reason="Plans changed")

    seats = {row.owner_id: str(row.id) for row in Booking.objects.filter(team_page=page)}
    assert len(seats) == 3
    for user_id, subscription in hooks.items():
        assert told(subscription) == [
            ("booking.created", seats[user_id], "confirmed"),
            ("booking.rescheduled", seats[user_id], "confirmed"),
            ("booking.cancelled", seats[user_id], "cancelled"),
        ]
    assert told(stranger) == []


def test_a_moved_seat_tells_the_times_it_had_before(radicale_server):
    team = make_team(radicale_server, size=2)
    page = team.page(TeamPage.Kind.COLLECTIVE)
    second = subscribe(team.users[1])
    start = at(days_ahead(5), 10)

    lead = book(page, start)
    team_booking_reschedule(booking=lead, start=start + timedelta(hours=1))

    moved = json.loads(
        WebhookDelivery.objects.filter(subscription=second, event_type="booking.rescheduled")
        .get()
        .body
    )
    assert moved["data"]["previous"]["start"] == rfc3339(start)
    assert moved["data"]["booking"]["start"] == rfc3339(start + timedelta(hours=1))


def test_a_round_robin_booking_is_told_only_to_the_member_who_got_it(radicale_server):
    team = make_team(radicale_server)
    page = team.page()
    hooks = {user.id: subscribe(user) for user in team.users}

    booking = book(page, at(days_ahead(5), 10))

    heard = {user_id: told(subscription) for user_id, subscription in hooks.items()}
    assert heard.pop(booking.owner_id) == [("booking.created", str(booking.id), "confirmed")]
    assert all(events == [] for events in heard.values())


def test_a_team_booking_names_its_team_page_in_place_of_a_page(radicale_server):
    team = make_team(radicale_server, size=1)
    page = team.page()
    hook = subscribe(team.users[0])

    book(page, at(days_ahead(5), 10))

    sent = json.loads(WebhookDelivery.objects.get(subscription=hook).body)["data"]["booking"]
    assert sent["page"] is None
    assert sent["team_page"] == {"id": str(page.id), "slug": page.slug}
