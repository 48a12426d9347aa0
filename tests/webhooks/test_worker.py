"""End to end through the real broker and a real Celery worker: a booking committed through the
real service reaches a receiver on loopback, signed, retried after a failure under the same id,
and the task messages carry the delivery's id only."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from booking.services.bookings import booking_create
from tests.booking.pages import at, days_ahead, make_host
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.webhooks.test_docs import documented_verify
from webhooks import services
from webhooks.events import RulePaused
from webhooks.models import WebhookDelivery
from webhooks.tasks import deliver_webhook

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_booking_reaches_the_receiver_through_the_worker_and_a_failure_is_retried(
    radicale_server, owner, receiver, celery_worker_process, published
):
    host = make_host(radicale_server, owner)
    subscription, secret = services.subscription_create(
        user=owner, url=receiver.url, events=["booking.created"]
    )
    receiver.answer(503)

    booking = booking_create(
        page=host.page,
        start=at(days_ahead(3), 10),
        duration=30,
        attendee_name="Grace Guest-Worker",
        attendee_email="grace@example.com",
        attendee_time_zone="UTC",
        answers=[],
        submission_key="through-the-worker",
    )

    first, retried = receiver.wait_for(2, timeout=40)
    verify = documented_verify()
    assert verify(secret, first.headers, first.body) and verify(
        secret, retried.headers, retried.body
    )
    assert first.headers["webhook-id"] == retried.headers["webhook-id"]
    assert first.body == retried.body
    assert json.loads(retried.body)["data"]["booking"]["id"] == str(booking.id)
    assert 4 <= retried.at - first.at <= 15  # the first retry waits 5 to 10 s
    deadline = time.monotonic() + 10
    while (
        delivery := WebhookDelivery.objects.get(subscription=subscription)
    ).status != "delivered":
        assert time.monotonic() < deadline, delivery.status
        time.sleep(0.1)
    assert (delivery.attempts, delivery.body) == (2, "")
    sent = [message for message in published if "deliver_webhook" in message]
    assert sent and all("Grace Guest-Worker" not in message for message in sent)
    assert any(str(delivery.id) in message for message in sent)


def test_two_real_workers_handed_the_same_deliveries_send_each_once(
    owner, receiver, celery_worker_process, tmp_path
):
    second = start_celery_worker(tmp_path / "second-worker.log", connection.settings_dict["NAME"])
    try:
        subscription, _ = services.subscription_create(
            user=owner, url=receiver.url, events=["rule.paused"]
        )
        receiver.answers.extend([(204, {}, 0.3)] * 10)  # slow: duplicates would overlap
        for _ in range(10):
            services.event_record(
                user_id=owner.id,
                event=RulePaused(uuid.uuid4(), "plan_limit", timezone.now()),
            )
        ids = [
            str(delivery_id) for delivery_id in subscription.deliveries.values_list("id", flat=True)
        ]
        for _ in range(3):  # each message lost and queued again, three times over
            for delivery_id in ids:
                deliver_webhook.delay(delivery_id)

        receiver.wait_for(10, timeout=40)
        time.sleep(2)  # room for a duplicate to arrive, were there one
    finally:
        stop_celery_worker(second)

    assert len(receiver.received) == 10
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 10
    assert set(subscription.deliveries.values_list("status", "attempts")) == {("delivered", 1)}
