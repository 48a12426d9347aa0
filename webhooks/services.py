"""Writes of outgoing webhooks: subscriptions, events recorded for delivery, and attempts.

Subscriptions (the settings pages and the API call these; every argument keyword-only):

- ``subscription_create(user=, url=, events=, ip_address=)`` → ``(subscription, secret)``: the
  secret is returned this once and never again (it is kept sealed);
- ``subscription_update(subscription=, url=, events=)``: either may be left out (None);
- ``subscription_rotate_secret(subscription=, ip_address=)`` → the new secret, shown once; the
  old one keeps signing beside it for ``SECRET_OVERLAP``;
- ``subscription_pause(subscription=)`` / ``subscription_resume(subscription=)``;
- ``subscription_delete(subscription=, ip_address=)``;
- ``subscription_send_test(subscription=)`` → the ``webhook.test`` delivery, sent at once.

A bad address raises ``InvalidWebhookURL``, a bad list of events ``InvalidWebhookEvents``, and a
subscription beyond ``MAX_SUBSCRIPTIONS`` ``TooManyWebhooks``: each a ``WebhookRefused`` with
words fit for a form (``translated()``). Creation, rotation and deletion are written to the
owner's audit log. Reads are in ``webhooks.selectors``.

Events: ``event_record(user_id=, event=)`` inside the transaction of the change it tells of.
Deliveries: ``delivery_attempt(delivery_id=)`` (the task) and ``deliveries_sweep()`` (beat).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.debug import sensitive_variables

from accounts.languages import owner_language
from accounts.models import AuditLog, User
from accounts.services import audit_log_record
from multical.lib import safe_http, vault
from multical.lib.email import send_templated_email
from multical.lib.http_headers import retry_after_seconds
from multical.lib.retry import BACKOFF_CEILING_SECONDS, backoff_seconds
from webhooks import signing
from webhooks.events import Event, PingEvent, rfc3339
from webhooks.models import (
    DELIVERY_WINDOW,
    SUBSCRIBABLE_EVENTS,
    EventType,
    WebhookDelivery,
    WebhookSubscription,
)

logger = logging.getLogger(__name__)

# How long a rotated-out secret keeps signing beside the new one.
SECRET_OVERLAP = timedelta(hours=24)
# A subscription whose deliveries have failed, none succeeding, for this long is paused.
PAUSE_AFTER_FAILING = timedelta(days=3)
# One attempt's whole request, the answer included.
TIMEOUT_SECONDS = 10.0
# How long an attempt holds its delivery: well past the timeout, so a live attempt is never
# overtaken, and short, so one whose worker died is tried again soon (the sweeper).
CLAIM_SECONDS = 60
# A message may arrive a little before its row says it is due: a countdown's timer firing early,
# or the clock of the machine that recorded the event running ahead of the worker's.
CLOCK_TOLERANCE = timedelta(seconds=2)
# Retries: the first after 5 to 10 s, each wait about twice the last, none longer than 6 h; a
# receiver's Retry-After is honoured up to that. The attempts stop DELIVERY_WINDOW after the
# event, the last one at that moment.
FIRST_RETRY_SECONDS = 10.0  # the longest first wait
LONGEST_WAIT_SECONDS = 6 * 3600.0
# Finished deliveries stay in the log this long.
LOG_KEPT_FOR = timedelta(days=30)
# Webhooks per account: each event is sent once per subscription that wants it.
MAX_SUBSCRIPTIONS = 10

HTTPS_MESSAGE = gettext_noop("The address must start with https://.")
NO_EVENTS_MESSAGE = gettext_noop("Choose at least one event.")
UNKNOWN_EVENT_MESSAGE = gettext_noop("There is no event called %(event)s.")
TOO_MANY_MESSAGE = gettext_noop("An account can have up to %(count)s webhooks.")


class WebhookRefused(ValueError):
    """A subscription the service will not make: ``str()`` is English with its values in,
    ``translated()`` the same in the active language (the message is marked for the catalogues,
    its values apart in ``params``)."""

    def __init__(self, message: str, **params: object) -> None:
        self.msgid, self.params = message, params
        super().__init__(message % params if params else message)

    def translated(self) -> str:
        return gettext(self.msgid) % self.params if self.params else gettext(self.msgid)


class InvalidWebhookURL(WebhookRefused):
    """The address cannot receive webhooks."""


class InvalidWebhookEvents(WebhookRefused):
    """The events asked for are none, or not ones we send."""


class TooManyWebhooks(WebhookRefused):
    """The account has ``MAX_SUBSCRIPTIONS`` webhooks already."""


# --- Subscriptions --------------------------------------------------------------------------------


def subscription_url_check(url: str) -> str:
    """``url`` normalised, if deliveries may go there: https, and every address it resolves to
    public (``multical.lib.safe_http``). With ``OUTBOUND_ALLOW_LOOPBACK`` (the tests, local
    development) plain http to this machine is accepted too. Raises InvalidWebhookURL."""
    try:
        normalised = safe_http.validate_url(url)
    except safe_http.UnsafeURLError as error:
        raise InvalidWebhookURL(str(error)) from error
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme == "https":
        return normalised
    if scheme == "http" and settings.OUTBOUND_ALLOW_LOOPBACK and _loopback_only(normalised):
        return normalised
    raise InvalidWebhookURL(HTTPS_MESSAGE)


def _loopback_only(url: str) -> bool:
    parts = urlsplit(url)
    addresses = safe_http.resolve_public_addresses(parts.hostname or "", parts.port or 80)
    return all(ipaddress.ip_address(address).is_loopback for address in addresses)


def _checked_events(events: Collection[str]) -> list[str]:
    wanted = set(events)
    if not wanted:
        raise InvalidWebhookEvents(NO_EVENTS_MESSAGE)
    unknown = sorted(wanted - {str(choice) for choice in SUBSCRIBABLE_EVENTS})
    if unknown:
        raise InvalidWebhookEvents(UNKNOWN_EVENT_MESSAGE, event=unknown[0])
    return [str(choice) for choice in SUBSCRIBABLE_EVENTS if choice in wanted]


@sensitive_variables()
def subscription_create(
    *, user: User, url: str, events: Collection[str], ip_address: str | None = None
) -> tuple[WebhookSubscription, str]:
    """A new, active subscription of ``user`` to ``events`` at ``url``, and its signing secret
    (``whsec_…``): show it to its owner now, it cannot be read again."""
    checked_url, checked_events = subscription_url_check(url), _checked_events(events)
    if WebhookSubscription.objects.filter(user=user).count() >= MAX_SUBSCRIPTIONS:
        raise TooManyWebhooks(TOO_MANY_MESSAGE, count=MAX_SUBSCRIPTIONS)
    secret = signing.new_secret()
    subscription = WebhookSubscription(user=user, url=checked_url, events=checked_events)
    subscription.secret = vault.seal(secret, context=vault.context_for(subscription, "secret"))
    with transaction.atomic():
        subscription.save(force_insert=True)
        _audit(subscription, AuditLog.Action.WEBHOOK_CREATED, ip_address)
    return subscription, secret


def subscription_update(
    *,
    subscription: WebhookSubscription,
    url: str | None = None,
    events: Collection[str] | None = None,
) -> WebhookSubscription:
    """Change the address or the events (None: keep it). Deliveries already recorded keep going
    to the subscription's current address."""
    if url is not None:
        subscription.url = subscription_url_check(url)
    if events is not None:
        subscription.events = _checked_events(events)
    subscription.save(update_fields=["url", "events", "updated_at"])
    return subscription


@sensitive_variables()
def subscription_rotate_secret(
    *, subscription: WebhookSubscription, ip_address: str | None = None
) -> str:
    """A new signing secret, returned this once. The one it replaces keeps signing too, beside
    it, for ``SECRET_OVERLAP``, so the receiver can switch without missing a delivery."""
    secret = signing.new_secret()
    now = timezone.now()
    with transaction.atomic():
        current = WebhookSubscription.objects.select_for_update().get(id=subscription.id)
        old = vault.unseal(current.secret, context=vault.context_for(current, "secret"))
        current.previous_secret = vault.seal(
            old, context=vault.context_for(current, "previous_secret")
        )
        current.previous_secret_expires_at = now + SECRET_OVERLAP
        current.secret = vault.seal(secret, context=vault.context_for(current, "secret"))
        current.save(
            update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
        )
        _audit(current, AuditLog.Action.WEBHOOK_SECRET_ROTATED, ip_address)
    subscription.refresh_from_db()
    return secret


def subscription_pause(
    *,
    subscription: WebhookSubscription,
    reason: str = WebhookSubscription.PausedReason.OWNER,
) -> None:
    """Stop sending: no event is recorded for it while paused, and what is waiting waits (until
    its 24 hours are over)."""
    subscription.active = False
    subscription.paused_reason = reason
    subscription.paused_at = timezone.now()
    subscription.save(update_fields=["active", "paused_reason", "paused_at", "updated_at"])


def subscription_resume(*, subscription: WebhookSubscription) -> None:
    """Send again, starting with the deliveries still waiting; its failures are forgotten."""
    with transaction.atomic():
        subscription.active = True
        subscription.paused_reason = ""
        subscription.paused_at = None
        subscription.failing_since = None
        subscription.save(
            update_fields=["active", "paused_reason", "paused_at", "failing_since", "updated_at"]
        )
        waiting = WebhookDelivery.objects.filter(
            subscription=subscription, status__in=WebhookDelivery.OPEN
        )
        waiting.update(next_attempt_at=timezone.now())
        for delivery_id in waiting.values_list("id", flat=True):
            _enqueue(delivery_id)


def subscription_delete(
    *, subscription: WebhookSubscription, ip_address: str | None = None
) -> None:
    """Delete the subscription and its delivery log; nothing more is sent to it."""
    with transaction.atomic():
        _audit(subscription, AuditLog.Action.WEBHOOK_DELETED, ip_address)
        subscription.delete()


def subscription_send_test(*, subscription: WebhookSubscription) -> WebhookDelivery:
    """Send a ``webhook.test`` event now, paused or not; it is tried once, never again."""
    with transaction.atomic():
        return _record(subscription, PingEvent(subscription.id, timezone.now()))


def _audit(subscription: WebhookSubscription, action: str, ip_address: str | None) -> None:
    # The host alone: a path or query may hold the receiver's own token.
    audit_log_record(
        user=subscription.user,
        action=action,
        ip_address=ip_address,
        subscription=str(subscription.id),
        host=urlsplit(subscription.url).hostname or "",
    )


# --- Events ---------------------------------------------------------------------------------------


def event_record(*, user_id: UUID | str, event: Event) -> int:
    """Record ``event`` for each of the user's active subscriptions that wants it, and have each
    sent once the current transaction commits; the number of deliveries recorded.

    Call it inside the transaction of the change the event tells of: the deliveries then exist
    if and only if the change does (a rolled-back booking sends nothing).
    """
    subscriptions = [
        subscription
        for subscription in WebhookSubscription.objects.filter(user_id=user_id, active=True)
        if event.type in subscription.events
    ]
    with transaction.atomic():
        for subscription in subscriptions:
            _record(subscription, event)
    return len(subscriptions)


def _record(subscription: WebhookSubscription, event: Event) -> WebhookDelivery:
    body = json.dumps(
        {"type": str(event.type), "timestamp": rfc3339(event.occurred_at), "data": event.data()},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription, event_type=event.type, body=body
    )
    _enqueue(delivery.id)
    return delivery


def _enqueue(delivery_id: UUID) -> None:
    from webhooks.tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.delay(str(delivery_id)))


# --- Attempts -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: the receiver's status, or why there was none."""

    status: int | None
    error: str = ""
    retry_after: float | None = None
    latency_ms: int = 0

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def delivery_attempt(*, delivery_id: UUID | str) -> float | None:
    """Send the delivery if it is due and nobody else is sending it; the seconds until the next
    attempt when this one failed and another will follow, else None.

    The claim is one conditional UPDATE (due, open, not claimed; its subscription active or the
    event a test), so of two workers handed the same delivery exactly one sends it. The request
    is made outside any transaction; its outcome is written only while the claim still holds.
    """
    delivery = (
        WebhookDelivery.objects.select_related("subscription__user").filter(id=delivery_id).first()
    )
    if delivery is None or not (
        delivery.subscription.active or delivery.event_type == EventType.TEST
    ):
        return None
    now = timezone.now()
    claim = now + timedelta(seconds=CLAIM_SECONDS)
    # Conditions on the row itself only: PostgreSQL checks them again on the row as the UPDATE
    # that waited for another one finds it (a join would be judged on the row as first read).
    claimed = (
        WebhookDelivery.objects.filter(
            id=delivery_id,
            status__in=WebhookDelivery.OPEN,
            next_attempt_at__lte=now + CLOCK_TOLERANCE,
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=claim, attempts=F("attempts") + 1, last_attempt_at=now)
    )
    if not claimed:
        return None
    delivery.refresh_from_db(fields=["attempts", "body", "created_at"])
    answer = _send(delivery)
    return _note(delivery, answer, claim)


@sensitive_variables()
def _valid_secrets(subscription: WebhookSubscription, now: datetime) -> list[str]:
    found = [vault.unseal(subscription.secret, context=vault.context_for(subscription, "secret"))]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and now < expires:
        found.append(
            vault.unseal(
                subscription.previous_secret,
                context=vault.context_for(subscription, "previous_secret"),
            )
        )
    return found


@sensitive_variables()
def _send(delivery: WebhookDelivery) -> Answer:
    subscription = delivery.subscription
    body = delivery.body.encode("utf-8")
    timestamp = int(time.time())
    headers = signing.headers(
        secrets_=_valid_secrets(subscription, timezone.now()),
        message_id=delivery.message_id,
        timestamp=timestamp,
        body=body,
    )
    started = time.monotonic()
    try:
        result = safe_http.post(
            subscription.url, body=body, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except safe_http.UnsafeURLError:
        # The name now resolves to an address we never reach: a failure like any other.
        return Answer(status=None, error="refused", latency_ms=_since(started))
    except safe_http.FetchError as error:
        kind = "timeout" if error.msgid == safe_http.TIMEOUT_MESSAGE else "unreachable"
        return Answer(status=None, error=kind, latency_ms=_since(started))
    return Answer(
        status=result.status,
        retry_after=retry_after_seconds(result.headers.get("retry-after", "")),
        latency_ms=_since(started),
    )


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _note(delivery: WebhookDelivery, answer: Answer, claim: datetime) -> float | None:
    """Write the attempt's outcome, and what it means for the subscription."""
    now = timezone.now()
    subscription = delivery.subscription
    is_test = delivery.event_type == EventType.TEST
    fields: dict[str, object] = {
        "claimed_until": None,
        "last_status_code": answer.status,
        "last_error": answer.error,
        "last_latency_ms": answer.latency_ms,
    }
    wait: float | None = None
    gone = answer.status == 410
    if answer.delivered or gone or is_test:
        done = (
            WebhookDelivery.Status.DELIVERED
            if answer.delivered
            else WebhookDelivery.Status.GIVEN_UP
        )
        fields |= {"status": done, "body": "", "finished_at": now}
    else:
        give_up_at = delivery.created_at + DELIVERY_WINDOW
        if now >= give_up_at:
            fields |= {"status": WebhookDelivery.Status.GIVEN_UP, "body": "", "finished_at": now}
        else:
            wait = _retry_wait(delivery.attempts, answer.retry_after)
            next_at = min(now + timedelta(seconds=wait), give_up_at)
            wait = (next_at - now).total_seconds()
            fields |= {"status": WebhookDelivery.Status.FAILED, "next_attempt_at": next_at}
    with transaction.atomic():
        written = WebhookDelivery.objects.filter(id=delivery.id, claimed_until=claim).update(
            **fields
        )
        if not written:
            return None  # the claim lapsed and another attempt took over: its outcome counts
        if gone:
            subscription_pause(
                subscription=subscription, reason=WebhookSubscription.PausedReason.GONE
            )
            transaction.on_commit(lambda: _send_paused_email(subscription))
        elif answer.delivered:
            WebhookSubscription.objects.filter(id=subscription.id).update(
                failing_since=None, last_success_at=now
            )
        elif not is_test:
            WebhookSubscription.objects.filter(id=subscription.id, failing_since=None).update(
                failing_since=now
            )
            subscriptions_pause_failing(subscription_ids=[subscription.id])
    if wait is not None:
        _enqueue_retry(delivery.id, wait)
    return wait


def _retry_wait(attempts: int, retry_after: float | None) -> float:
    """After attempt number ``attempts`` (1 the first) failed."""
    return backoff_seconds(
        attempts,
        min(retry_after, LONGEST_WAIT_SECONDS) if retry_after is not None else None,
        first=FIRST_RETRY_SECONDS / 2,
        ceiling=LONGEST_WAIT_SECONDS,
    )


def _enqueue_retry(delivery_id: UUID, wait: float) -> None:
    """A retry soon enough rides the broker's countdown; a later one is left to the sweeper,
    which queues it when due (a countdown longer than the broker's visibility timeout would be
    handed out twice)."""
    from webhooks.tasks import deliver_webhook

    if wait <= BACKOFF_CEILING_SECONDS:
        deliver_webhook.apply_async((str(delivery_id),), countdown=wait)


# --- Upkeep ---------------------------------------------------------------------------------------


def subscriptions_pause_failing(*, subscription_ids: Collection[UUID] | None = None) -> int:
    """Pause the active subscriptions (of ``subscription_ids``, or all) that have not had a
    success since a failure ``PAUSE_AFTER_FAILING`` ago, and e-mail each owner; how many."""
    due = WebhookSubscription.objects.filter(
        active=True, failing_since__lte=timezone.now() - PAUSE_AFTER_FAILING
    )
    if subscription_ids is not None:
        due = due.filter(id__in=list(subscription_ids))
    paused = 0
    for subscription in due.select_related("user"):
        with transaction.atomic():
            # Conditional, so two sweepers pause it (and e-mail) once.
            if not WebhookSubscription.objects.filter(id=subscription.id, active=True).update(
                active=False,
                paused_reason=WebhookSubscription.PausedReason.FAILING,
                paused_at=timezone.now(),
            ):
                continue
            paused += 1
            transaction.on_commit(functools.partial(_send_paused_email, subscription))
    return paused


def _send_paused_email(subscription: WebhookSubscription) -> None:
    """Tell the owner we stopped sending, and why. Sent whatever the notification settings say
    (none of them is about webhooks, and an integration that went quiet needs its owner), but
    not to an account being deleted."""
    current = WebhookSubscription.objects.select_related("user").filter(id=subscription.id).first()
    if current is None or current.user.deletion_requested_at is not None:
        return
    subscription, user = current, current.user
    send_templated_email(
        to=user.email,
        template="webhooks/email/paused",
        context={
            "subscription": subscription,
            "host": urlsplit(subscription.url).hostname or subscription.url,
            "gone": subscription.paused_reason == WebhookSubscription.PausedReason.GONE,
            "settings_url": settings.SITE_URL
            + reverse("webhooks:subscription_detail", args=[subscription.id]),
        },
        language=owner_language(user),
    )


@dataclass(frozen=True, slots=True)
class Sweep:
    requeued: int
    given_up: int
    paused: int
    pruned: int


# Deliveries due longer ago than this are taken to have lost their message.
_LOST_AFTER = timedelta(seconds=15)
_REQUEUE_BATCH = 1000


def deliveries_sweep() -> Sweep:
    """The periodic upkeep (beat): queue again due deliveries whose message was lost (a broker
    restart, a killed worker, a retry later than a countdown may wait), give up those past their
    24 hours that nobody could send (a paused subscription), pause subscriptions failing for 3
    days, and forget finished deliveries older than ``LOG_KEPT_FOR``.

    Safe if two beats run: a delivery queued twice is sent once (``delivery_attempt`` claims).
    """
    now = timezone.now()
    open_ = WebhookDelivery.objects.filter(status__in=WebhookDelivery.OPEN)
    given_up = (
        open_.filter(created_at__lt=now - DELIVERY_WINDOW - timedelta(seconds=CLAIM_SECONDS))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(
            status=WebhookDelivery.Status.GIVEN_UP, body="", finished_at=now, claimed_until=None
        )
    )
    due = list(
        open_.filter(next_attempt_at__lte=now - _LOST_AFTER)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(Q(subscription__active=True) | Q(event_type=EventType.TEST))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:_REQUEUE_BATCH]
    )
    from webhooks.tasks import deliver_webhook

    for delivery_id in due:
        deliver_webhook.delay(str(delivery_id))
    paused = subscriptions_pause_failing()
    pruned, _ = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.GIVEN_UP],
        finished_at__lt=now - LOG_KEPT_FOR,
    ).delete()
    return Sweep(requeued=len(due), given_up=given_up, paused=paused, pruned=pruned)
