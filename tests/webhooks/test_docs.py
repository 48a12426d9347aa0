"""The verification snippet of docs/WEBHOOKS.md, taken from the document and run against real
deliveries: the document cannot drift from what is sent."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from tests.webhooks.receiver import Receiver
from webhooks import services, signing
from webhooks.events import (
    BookingEvent,
    BookingFacts,
    ConnectionNeedsReconnect,
    DeletionsHeld,
    PingEvent,
    RulePaused,
)
from webhooks.models import EventType

pytestmark = pytest.mark.django_db

DOC = Path(settings.BASE_DIR) / "docs" / "WEBHOOKS.md"
Verify = Callable[..., bool]


def documented_verify() -> Verify:
    """The ``verify`` function of the document's first Python block after its marker."""
    text = DOC.read_text()
    found = re.search(r"<!-- verify-snippet.*?-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert found, "docs/WEBHOOKS.md lost its verification snippet"
    namespace: dict[str, object] = {}
    exec(compile(found[1], str(DOC), "exec"), namespace)  # noqa: S102 - our own document
    verify = namespace["verify"]
    assert callable(verify)
    return verify


def test_the_documented_snippet_verifies_a_real_delivery_and_refuses_tampering(
    owner, receiver: Receiver, queued
):
    verify = documented_verify()
    subscription, secret = services.subscription_create(
        user=owner, url=receiver.url, events=["rule.paused"]
    )
    services.subscription_send_test(subscription=subscription)
    services.event_record(
        user_id=owner.id,
        event=RulePaused(
            rule_id=subscription.id, reason="plan_limit", occurred_at=datetime.now(UTC)
        ),
    )
    for delivery in subscription.deliveries.all():
        services.delivery_attempt(delivery_id=delivery.id)

    for request in receiver.wait_for(2):
        assert verify(secret, request.headers, request.body)
        assert not verify(secret, request.headers, request.body.replace(b"}", b" }", 1))
        assert not verify(signing.new_secret(), request.headers, request.body)
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
            assert not verify(secret, request.headers, request.body)  # a replay, too late


def test_the_documented_snippet_accepts_either_secret_during_a_rotation(
    owner, receiver: Receiver, queued
):
    verify = documented_verify()
    subscription, old = services.subscription_create(
        user=owner, url=receiver.url, events=["rule.paused"]
    )
    new = services.subscription_rotate_secret(subscription=subscription)
    delivery = services.subscription_send_test(subscription=subscription)
    services.delivery_attempt(delivery_id=delivery.id)

    [request] = receiver.wait_for(1)
    assert verify(old, request.headers, request.body)
    assert verify(new, request.headers, request.body)


def documented_examples() -> dict[str, dict]:
    """The JSON example under each event's heading (``### `type` ``), by event type."""
    found = re.findall(r"^### `([a-z_.]+)`\n.*?```json\n(.*?)```", DOC.read_text(), re.M | re.S)
    return {event: json.loads(example) for event, example in found}


def shape(value: object) -> object:
    """The keys of every object, nested, with lists read by their first item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items() if key != "…"}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def real_payloads() -> dict[str, dict]:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    booking = BookingFacts(
        id=uuid.uuid4(),
        page_id=uuid.uuid4(),
        page_slug="intro",
        title="Intro call",
        start=now,
        end=now + timedelta(minutes=30),
        status="confirmed",
        attendee_name="Grace Guest",
        attendee_email="grace@example.com",
        attendee_time_zone="Europe/Berlin",
        answers=[("Topic", "Roadmap")],
        location="zoom",
        created_at=now,
    )
    events = [
        BookingEvent(type=EventType.BOOKING_CREATED, booking=booking, occurred_at=now),
        BookingEvent(
            type=EventType.BOOKING_RESCHEDULED,
            booking=booking,
            occurred_at=now,
            previous_start=now,
            previous_end=now,
        ),
        BookingEvent(type=EventType.BOOKING_CANCELLED, booking=booking, occurred_at=now),
        ConnectionNeedsReconnect(uuid.uuid4(), "google", now),
        DeletionsHeld(uuid.uuid4(), uuid.uuid4(), "microsoft", 42, now, now),
        RulePaused(uuid.uuid4(), "plan_limit", now),
        PingEvent(uuid.uuid4(), now),
    ]
    return {
        str(event.type): {"type": str(event.type), "timestamp": "", "data": event.data()}
        for event in events
    }


def test_every_event_has_a_documented_example_of_the_shape_sent():
    examples, real = documented_examples(), real_payloads()

    assert set(examples) == set(real) == {str(choice) for choice in EventType}
    for event, example in examples.items():
        documented, sent = shape(example), shape(real[event])
        if "…" in json.dumps(example, ensure_ascii=False):
            # Abridged ("as in booking.created"): what it shows must be what is sent.
            booking = sent["data"]["booking"]
            assert documented["data"]["booking"].items() <= booking.items(), event
            assert documented["data"].keys() == sent["data"].keys(), event
        else:
            assert documented == sent, event
