"""The verification snippet of docs/WEBHOOKS.md, taken from the document and run against real
deliveries: the document cannot drift from what is sent."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from tests.webhooks.receiver import Receiver
from webhooks import services, signing
from webhooks.events import RulePaused

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
