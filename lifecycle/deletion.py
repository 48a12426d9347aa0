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

from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from accounts.billing import services as billing
from accounts.billing.stripe_api import StripeUnavailable
from accounts.models import AuditLog, User
from accounts.services import audit_log_record
from booking.models import Booking, BookingPage
from booking.page_cache import forget_public_pages
from booking.services.bookings import booking_cancel
from calendars.models import Calendar
from calendars.push import calendar_unwatch
from integrations.base import ProviderError
from syncrules.models import Block, SyncRule
from syncrules.removal import Removal, remove_blocks

logger = logging.getLogger(__name__)

# What the attendees of cancelled bookings are told (after "Their reason:"), in the language they
# booked in.
CLOSED_ACCOUNT_REASON = gettext_noop("Their booking account was closed.")


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
    forget_public_pages(user.pk)
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
    removal = _remove_blocks(user, giving_up=last_try)
    telling = _cancellations_being_sent(user)
    if (removal.left or telling) and not last_try:
        raise DeletionIncomplete(
            f"{removal.left} blocks left, {telling} cancellations being sent",
            retry_after=removal.retry_after,
        )
    if last_try and (removal.forgotten or telling):
        logger.warning(
            "Deleting account %s with %d blocks left in its calendars and %d cancellations unsent",
            user_id,
            removal.forgotten,
            telling,
        )
    requested_at = user.deletion_requested_at
    assert requested_at is not None  # only a closed account is fetched above
    user.delete()
    logger.info("Deleted account %s (asked for at %s)", user_id, requested_at.isoformat())


def _cancel_coming_bookings(user: User) -> None:
    coming = Booking.objects.filter(
        owner=user, status=Booking.Status.CONFIRMED, end__gt=timezone.now()
    )
    for booking in coming:
        # Kept on the booking as its attendee reads it, like a reason the owner typed.
        with translation.override(booking.language):
            reason = gettext(CLOSED_ACCOUNT_REASON)
        booking_cancel(booking=booking, actor=Booking.Actor.OWNER, reason=reason)


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


def _remove_blocks(user: User, *, giving_up: bool) -> Removal:
    """The user's blocks out of their calendars (``syncrules.removal``: the account is going, so
    what nobody can remove is forgotten; ``giving_up`` forgets what a provider would not take now)."""
    if not user.deletion_removes_blocks:
        return Removal()
    blocks = Block.objects.filter(target_calendar__connection__user=user)
    ordered = blocks.select_related("target_calendar__connection__user").order_by(
        "target_calendar_id"
    )
    return remove_blocks(ordered, giving_up=giving_up)
