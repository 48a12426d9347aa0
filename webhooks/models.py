"""Outgoing webhooks: the addresses users asked us to tell of events, and each event's delivery.

A delivery is an outbox row, written in the same transaction as the change it tells of, so it
exists exactly when the change does. It holds the body it will send only while it may still be
sent: once delivered or given up, the body is cleared and what stays is its log line (time,
status, latency, attempts). Secrets are sealed by the vault, never kept in the clear.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from multical.lib.vault import SealedTextField

# How long a delivery is tried before it is given up, counted from its event.
DELIVERY_WINDOW = timedelta(hours=24)


class EventType(models.TextChoices):
    BOOKING_CREATED = "booking.created", _("A booking is made")
    BOOKING_RESCHEDULED = "booking.rescheduled", _("A booking is moved to another time")
    BOOKING_CANCELLED = "booking.cancelled", _("A booking is cancelled")
    CONNECTION_NEEDS_RECONNECT = (
        "connection.needs_reconnect",
        _("A calendar account needs reconnecting"),
    )
    SYNC_DELETIONS_HELD = (
        "sync.deletions_held",
        _("Most of a calendar's events vanished at once and removing their blocks waits"),
    )
    RULE_PAUSED = "rule.paused", _("A sync rule is paused")
    # Sent only when asked for on the settings page; nobody subscribes to it.
    TEST = "webhook.test", _("Test event")


# The events a subscription can ask for, in the order the form lists them.
SUBSCRIBABLE_EVENTS = [choice for choice in EventType if choice != EventType.TEST]


class WebhookSubscription(models.Model):
    """An HTTPS address of the user's that wants some of our events, signed with its secret.

    ``secret`` is the current signing secret (``whsec_…``), sealed under
    ``context_for(self, "secret")``. After a rotation the previous one stays valid until
    ``previous_secret_expires_at``: deliveries meanwhile carry a signature made with each.
    ``failing_since`` is the first failed attempt since the last success (None while it works).
    """

    class PausedReason(models.TextChoices):
        OWNER = "owner", _("Paused by you")
        FAILING = "failing", _("Paused: deliveries failed for 3 days")
        GONE = "gone", _("Paused: the receiver answered 410 Gone")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(_("Address"), max_length=1000)
    # Values of EventType (a JSON list, so the embedded SQLite of development has it too).
    events = models.JSONField(default=list)
    secret = SealedTextField()
    previous_secret = SealedTextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    paused_reason = models.CharField(max_length=16, choices=PausedReason.choices, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="webhooks_subscription_user"),
            models.Index(
                fields=["failing_since"],
                condition=Q(active=True, failing_since__isnull=False),
                name="webhooks_subscription_failing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.url}"

    @property
    def event_labels(self) -> list[str]:
        labels = dict(EventType.choices)
        return [str(labels[event]) for event in self.events if event in labels]


class WebhookDelivery(models.Model):
    """One event for one subscription: the body to send while it may be sent, and its log line.

    ``id`` is the idempotency id the receiver sees (``webhook-id: msg_<id in hex>``), the same on
    every attempt. An attempt claims the row for ``CLAIM_SECONDS`` (``claimed_until``) before it
    sends, so two workers never send it at once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        FAILED = "failed", _("Failed, will try again")
        DELIVERED = "delivered", _("Delivered")
        GIVEN_UP = "given_up", _("Given up")

    # Still to be sent: the body is kept.
    OPEN = frozenset({Status.PENDING, Status.FAILED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    # The exact JSON sent (the same bytes on every attempt); blank once delivered or given up.
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # The receiver's HTTP status, or None when there was no answer (see ``last_error``).
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # Why there was no answer: "timeout", "unreachable" or "refused" (the address turned private).
    last_error = models.CharField(max_length=16, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["subscription", "-created_at"], name="webhooks_delivery_log"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="webhooks_delivery_due",
            ),
            models.Index(fields=["finished_at"], name="webhooks_delivery_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} for {self.subscription_id}: {self.status}"

    @property
    def message_id(self) -> str:
        """The ``webhook-id`` header: stable across retries, unique per event and subscription."""
        return f"msg_{self.id.hex}"
