"""Deliveries: signed as Standard Webhooks says, retried with backoff for 24 hours, claimed once,
and subscriptions paused when they keep failing or say they are gone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection

from accounts.models import AuditLog
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.events import PingEvent, RulePaused
from webhooks.models import EventType, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def subscribe(user, receiver: Receiver, events=("rule.paused",)) -> tuple[WebhookSubscription, str]:
    return services.subscription_create(user=user, url=receiver.url, events=list(events))


def record_event() -> RulePaused:
    return RulePaused(rule_id=uuid.uuid4(), reason="plan_limit", occurred_at=NOW)


def record(user) -> WebhookDelivery:
    services.event_record(user_id=user.id, event=record_event())
    return WebhookDelivery.objects.latest("created_at")


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """Written from the specification, apart from webhooks.signing."""
    key = base64.b64decode(secret[len("whsec_") :])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_a_delivery_is_signed_with_the_secret_shown_once(owner, receiver, queued):
    subscription, secret = subscribe(owner, receiver)
    delivery = record(owner)

    services.delivery_attempt(delivery_id=delivery.id)

    [request] = receiver.wait_for(1)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert request.headers["webhook-signature"] == expected_signature(
        secret, request.headers, request.body
    )
    assert request.headers["webhook-id"] == f"msg_{delivery.id.hex}"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["type"] == "rule.paused"
    assert body["timestamp"] == "2026-12-07T10:00:00Z"
    assert set(body["data"]) == {"rule", "reason", "paused_at"}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.body == ""  # nothing kept once delivered
    assert delivery.last_latency_ms is not None
    assert secret not in WebhookSubscription.objects.filter(id=subscription.id).values()[0].values()


def test_during_the_rotation_overlap_both_secrets_sign_and_then_only_the_new(
    owner, receiver, queued
):
    subscription, old = subscribe(owner, receiver)
    new = services.subscription_rotate_secret(subscription=subscription)
    assert new != old

    services.delivery_attempt(delivery_id=record(owner).id)
    [during] = receiver.wait_for(1)
    signatures = during.headers["webhook-signature"].split(" ")
    assert signatures == [
        expected_signature(new, during.headers, during.body),
        expected_signature(old, during.headers, during.body),
    ]

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=24, minutes=1)):
        services.delivery_attempt(delivery_id=record(owner).id)
    after = receiver.wait_for(2)[1]
    assert after.headers["webhook-signature"] == expected_signature(new, after.headers, after.body)
    assert list(
        AuditLog.objects.filter(user=owner).values_list("action", flat=True).order_by("created_at")
    ) == ["webhook_created", "webhook_secret_rotated"]


def test_a_failing_receiver_is_retried_with_growing_waits_and_the_same_id(owner, receiver, queued):
    subscribe(owner, receiver)
    for status in (500, 503, 429, 502, 404):
        receiver.answer(status)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        delivery = record(owner)
        waits = []
        for _ in range(6):
            wait = services.delivery_attempt(delivery_id=delivery.id)
            if wait is None:
                break
            waits.append(wait)
            # Not due yet: a second hand-out of the same message does nothing.
            assert services.delivery_attempt(delivery_id=delivery.id) is None
            clock.shift(timedelta(seconds=wait))

    requests = receiver.wait_for(6)
    assert len({request.headers["webhook-id"] for request in requests}) == 1
    assert len({request.body for request in requests}) == 1
    assert len(waits) == 5
    for number, wait in enumerate(waits, start=1):
        assert 5 * 2 ** (number - 1) <= wait <= 10 * 2 ** (number - 1)
    # Each retry soon enough rides the broker's countdown.
    assert [countdown for _, countdown in queued] == pytest.approx(waits)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 6)


def test_retry_after_from_the_receiver_is_honoured(owner, receiver, queued):
    subscribe(owner, receiver)
    receiver.answer(503, headers={"Retry-After": "120"})
    delivery = record(owner)
    wait = services.delivery_attempt(delivery_id=delivery.id)
    assert wait == pytest.approx(120, abs=1)


def test_after_24_hours_of_failing_a_delivery_is_given_up_and_its_body_cleared(
    owner, receiver, queued
):
    subscribe(owner, receiver)
    start = datetime.now(UTC)
    receiver.answers.extend([(500, {}, 0.0)] * 100)
    with time_machine.travel(start, tick=False) as clock:
        delivery = record(owner)
        attempts = 0
        while (wait := services.delivery_attempt(delivery_id=delivery.id)) is not None:
            attempts += 1
            clock.shift(timedelta(seconds=wait))
        delivery.refresh_from_db()
        elapsed = datetime.now(UTC) - start

    assert delivery.status == WebhookDelivery.Status.GIVEN_UP
    assert delivery.body == ""
    assert elapsed == timedelta(hours=24)  # the last attempt at the 24-hour mark
    assert 10 <= delivery.attempts <= 25
    # The longest wait is 6 hours: the attempts of the last hours are hours apart, not days.
    assert delivery.attempts == attempts + 1


def test_a_subscription_failing_for_3_days_is_paused_and_its_owner_emailed(
    owner, receiver, queued, django_capture_on_commit_callbacks
):
    subscription, _ = subscribe(owner, receiver)
    receiver.answers.extend([(500, {}, 0.0)] * 10)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        services.delivery_attempt(delivery_id=record(owner).id)
        clock.shift(timedelta(days=2, hours=23))
        services.delivery_attempt(delivery_id=record(owner).id)
        subscription.refresh_from_db()
        assert subscription.active
        clock.shift(timedelta(hours=1))
        with django_capture_on_commit_callbacks(execute=True):
            swept = services.deliveries_sweep()

    subscription.refresh_from_db()
    assert swept.paused == 1
    assert (subscription.active, subscription.paused_reason) == (False, "failing")
    [email] = mail.outbox
    assert email.to == [owner.email]
    assert "127.0.0.1" in email.subject
    # Paused: no new event is recorded for it, and the sweeper pauses it only once.
    assert services.event_record(user_id=owner.id, event=record_event()) == 0
    assert services.deliveries_sweep().paused == 0


def test_a_success_forgives_earlier_failures(owner, receiver, queued):
    subscription, _ = subscribe(owner, receiver)
    receiver.answer(500)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        services.delivery_attempt(delivery_id=record(owner).id)
        clock.shift(timedelta(days=2))
        services.delivery_attempt(delivery_id=record(owner).id)
        clock.shift(timedelta(days=2))
        assert services.deliveries_sweep().paused == 0
    subscription.refresh_from_db()
    assert subscription.active and subscription.failing_since is None


def test_410_gone_pauses_the_subscription_at_once(
    owner, receiver, queued, django_capture_on_commit_callbacks
):
    subscription, _ = subscribe(owner, receiver)
    receiver.answer(410)
    delivery = record(owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.delivery_attempt(delivery_id=delivery.id) is None
    subscription.refresh_from_db()
    delivery.refresh_from_db()
    assert (subscription.active, subscription.paused_reason) == (False, "gone")
    assert (delivery.status, delivery.body) == ("given_up", "")
    assert len(mail.outbox) == 1


def test_a_redirect_is_a_failure_and_is_not_followed(owner, receiver, queued):
    subscribe(owner, receiver)
    receiver.answer(307, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    delivery = record(owner)
    assert services.delivery_attempt(delivery_id=delivery.id) is not None
    assert len(receiver.wait_for(1)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("failed", 307)


def test_a_receiver_that_does_not_answer_in_10_seconds_is_a_timeout(
    owner, receiver, queued, monkeypatch
):
    monkeypatch.setattr(services, "TIMEOUT_SECONDS", 0.5)
    subscribe(owner, receiver)
    receiver.answer(204, wait=2)
    delivery = record(owner)
    assert services.delivery_attempt(delivery_id=delivery.id) is not None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error, delivery.last_status_code) == (
        "failed",
        "timeout",
        None,
    )


def test_a_paused_subscription_gets_no_attempt_until_resumed(
    owner, receiver, queued, django_capture_on_commit_callbacks
):
    subscription, _ = subscribe(owner, receiver)
    delivery = record(owner)
    services.subscription_pause(subscription=subscription)
    assert services.delivery_attempt(delivery_id=delivery.id) is None
    assert receiver.received == []

    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.subscription_resume(subscription=subscription)
    assert [delivery_id for delivery_id, _ in queued] == [str(delivery.id)]
    services.delivery_attempt(delivery_id=delivery.id)
    assert len(receiver.wait_for(1)) == 1


def test_a_test_event_is_sent_once_even_when_it_fails(owner, receiver, queued):
    subscription, _ = subscribe(owner, receiver)
    receiver.answer(500)
    delivery = services.subscription_send_test(subscription=subscription)
    assert services.delivery_attempt(delivery_id=delivery.id) is None
    delivery.refresh_from_db()
    assert (delivery.event_type, delivery.status) == ("webhook.test", "given_up")
    assert json.loads(receiver.wait_for(1)[0].body)["data"] == {
        "subscription": {"id": str(subscription.id)},
        "test": True,
    }
    subscription.refresh_from_db()
    assert subscription.failing_since is None  # a test says nothing of the real deliveries


def test_only_subscriptions_that_want_the_event_get_it(owner, second_user, receiver, queued):
    wants, _ = subscribe(owner, receiver, events=["rule.paused"])
    subscribe(owner, receiver, events=["booking.created"])
    subscribe(second_user, receiver, events=["rule.paused"])
    assert services.event_record(user_id=owner.id, event=record_event()) == 1
    assert list(WebhookDelivery.objects.values_list("subscription_id", flat=True)) == [wants.id]


def test_the_sweeper_requeues_lost_deliveries_and_gives_up_old_ones(owner, receiver, queued):
    subscription, _ = subscribe(owner, receiver)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        lost = record(owner)
        clock.shift(timedelta(minutes=1))
        queued.clear()
        assert services.deliveries_sweep().requeued == 1
        assert queued == [(str(lost.id), None)]
        services.subscription_pause(subscription=subscription)
        clock.shift(timedelta(hours=25))
        assert services.deliveries_sweep().given_up == 1
    lost.refresh_from_db()
    assert (lost.status, lost.body) == ("given_up", "")


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_or_two_workers_send_a_delivery_once(owner, receiver, queued):
    """Many threads (each its own database connection) handed the same delivery at once."""
    subscribe(owner, receiver)
    receiver.answer(204, wait=0.5)  # the first sender holds it while the others try
    delivery = record(owner)
    barrier = threading.Barrier(6)
    outcomes: list[object] = []

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append(services.delivery_attempt(delivery_id=delivery.id))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_a_ping_event_names_the_test_type():
    event = PingEvent(subscription_id=uuid.uuid4(), occurred_at=NOW)
    assert event.type == EventType.TEST


def test_a_message_a_moment_early_is_still_sent(owner, receiver, queued):
    """A countdown's timer may fire a little early, or the recording machine's clock run ahead."""
    subscribe(owner, receiver)
    delivery = record(owner)
    WebhookDelivery.objects.filter(id=delivery.id).update(
        next_attempt_at=datetime.now(UTC) + timedelta(seconds=1)
    )
    services.delivery_attempt(delivery_id=delivery.id)
    assert len(receiver.wait_for(1)) == 1
