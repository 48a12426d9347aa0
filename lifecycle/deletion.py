"""Deleting an account, in two steps.

1. ``account_deletion_request`` (in the request, one transaction): the account is marked and made
   inactive, so nobody can log in to it and every session of it ends at once (an inactive user is
   anonymous to every session, and the password hash that sessions are bound to changes). Its rules
   stop, its booking pages stop taking bookings, its coming bookings are cancelled (the attendees
   get the usual cancellation e-mail with the iCalendar CANCEL; the owner's copy is not sent), and
   a task is queued.
2. ``account_delete`` (the task, after the request): an active Stripe subscription is cancelled
   (at once, so the user is never charged again), push channels are stopped, the blocks
   Multical wrote into the user's calendars are removed (unless the user chose to keep them), and
   once the attendees have been told, the user row is deleted: everything else goes with it in one
   cascade. A provider that is down leaves work undone and the task is retried with backoff; on the
   last try the account is deleted anyway, and what was left is logged (ids and counts only).

Running either step twice is harmless. Nothing about the account is kept once it is deleted: the
application log says that the account id was deleted, and when the deletion was asked for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone

from accounts.billing import services as billing
from accounts.billing.stripe_api import StripeUnavailable
from accounts.models import AuditLog, User
from accounts.services import audit_log_record
from booking.models import Booking, BookingPage
from booking.services import booking_cancel
from calendars.models import Calendar
from calendars.push import calendar_unwatch
from integrations.base import ProviderError
from syncrules.applier import ProviderPool, delete_remote_block
from syncrules.models import Block, SyncRule

logger = logging.getLogger(__name__)

# What the attendees of cancelled bookings are told (after "Their reason:").
CLOSED_ACCOUNT_REASON = "Their booking account was closed."


class DeletionIncomplete(Exception):
    """Work at the providers is left to do; the deletion should be tried again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def account_close(*, user: User, remove_blocks: bool, ip_address: str | None) -> str:
    """Close the account at once, in the caller's transaction (``remove_blocks``: its deletion
    takes the blocks Multical wrote out of the user's calendars); its id, for the deletion task.
    Asking twice keeps the first answer."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.deletion_requested_at is None:
        user.deletion_requested_at = timezone.now()
        user.deletion_removes_blocks = remove_blocks
        user.is_active = False
        user.set_unusable_password()
        user.save(
            update_fields=[
                "deletion_requested_at",
                "deletion_removes_blocks",
                "is_active",
                "password",
            ]
        )
        audit_log_record(
            user=user,
            action=AuditLog.Action.DELETION_REQUESTED,
            ip_address=ip_address,
            remove_blocks=remove_blocks,
        )
        logger.info("Account %s asked to be deleted", user.pk)
    # A disabled rule writes nothing more; its blocks would count as stale, so kept ones are
    # forgotten now (the events stay in the calendars) and nothing else removes them.
    SyncRule.objects.filter(user=user).update(enabled=False)
    if not user.deletion_removes_blocks:
        Block.objects.filter(target_calendar__connection__user=user).delete()
    BookingPage.objects.filter(owner=user).update(active=False)
    _cancel_coming_bookings(user)
    return str(user.pk)


def account_delete(*, user_id: str, last_try: bool = False) -> None:
    """Finish a requested deletion: cancel the Stripe subscription, stop channels, remove blocks,
    then delete the user and all their data. Raises ``DeletionIncomplete`` while the subscription,
    provider work or cancellation e-mails are pending, unless ``last_try``. Does nothing for an
    account that is gone or was not closed."""
    user = User.objects.filter(pk=user_id, deletion_requested_at__isnull=False).first()
    if user is None:
        return
    try:
        billing.subscriptions_cancel_for_deletion(user=user)
    except (StripeUnavailable, billing.BillingError):
        if not last_try:
            raise DeletionIncomplete("the Stripe subscription is not cancelled yet") from None
        logger.error(
            "Deleting account %s whose Stripe subscription could not be cancelled (customer %s)",
            user_id,
            user.subscription.stripe_customer_id,
        )
    # A booking made in the moment before the pages closed is cancelled too.
    _cancel_coming_bookings(user)
    _stop_push_channels(user)
    left = _remove_blocks(user) if user.deletion_removes_blocks else _Left()
    telling = _cancellations_being_sent(user)
    if left.blocks or telling:
        if not last_try:
            raise DeletionIncomplete(
                f"{left.blocks} blocks left, {telling} cancellations being sent",
                retry_after=left.retry_after,
            )
        logger.warning(
            "Deleting account %s with %d blocks left in its calendars and %d cancellations unsent",
            user_id,
            left.blocks,
            telling,
        )
    requested_at = user.deletion_requested_at
    user.delete()
    logger.info("Deleted account %s (asked for at %s)", user_id, requested_at.isoformat())


def _cancel_coming_bookings(user: User) -> None:
    coming = Booking.objects.filter(
        owner=user, status=Booking.Status.CONFIRMED, end__gt=timezone.now()
    )
    for booking in coming:
        booking_cancel(booking=booking, actor=Booking.Actor.OWNER, reason=CLOSED_ACCOUNT_REASON)


def _cancellations_being_sent(user: User) -> int:
    """Cancelled bookings whose attendee has not been told yet (their follow-up is queued)."""
    return Booking.objects.filter(
        owner=user, status=Booking.Status.CANCELLED, notified_sequence__lt=F("sequence")
    ).count()


def _stop_push_channels(user: User) -> None:
    """Stop Google channels and Graph subscriptions (best-effort: unstopped ones expire soon)."""
    calendars = (
        Calendar.objects.filter(connection__user=user)
        .exclude(push_resource_id="")
        .exclude(connection__secrets="")
        .select_related("connection")
    )
    for calendar in calendars:
        try:
            calendar_unwatch(calendar)
        except ProviderError:
            logger.info("Could not stop the channel of calendar %s", calendar.id)


@dataclass
class _Left:
    blocks: int = 0
    retry_after: float | None = None


def _remove_blocks(user: User) -> _Left:
    """Delete the user's blocks from their calendars, forgetting each one removed.

    A block whose connection refuses us for good (or has no credentials left) cannot be removed
    by anyone: it is forgotten. A transient failure leaves the block, and the connection's other
    blocks, for the next try.
    """
    left = _Left()
    pool = ProviderPool()
    failing: set[str] = set()
    blocks = Block.objects.filter(target_calendar__connection__user=user).select_related(
        "target_calendar__connection"
    )
    for block in blocks.order_by("target_calendar_id"):
        connection = block.target_calendar.connection
        if str(connection.id) in failing:
            left.blocks += 1
            continue
        if connection.secrets:
            try:
                delete_remote_block(pool.get(connection), block=block)
            except ProviderError as error:
                if not error.permanent:
                    failing.add(str(connection.id))
                    left.blocks += 1
                    left.retry_after = max(left.retry_after or 0, error.retry_after or 0) or None
                    continue
                logger.warning(
                    "Could not remove a block from calendar %s", block.target_calendar_id
                )
        block.delete()
    pool.keep_refreshed_secrets()
    return left
