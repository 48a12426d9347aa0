"""Billing per seat: an organization pays Pro for every member, one seat each, on the Stripe
integration personal Pro uses (``accounts.billing``), with the same limits and the same grace.

- The organization has a Stripe customer of its own; Checkout subscribes it to the seat price
  (``STRIPE_SEAT_PRICE_ID``, else the Pro price) with a quantity of the number of members.
- Stripe is the truth about the subscription: an event only says which customer changed, and we
  read the customer's subscriptions back (``org_subscription_refresh``), as personal billing does.
- A member has Pro while the organization's subscription is live (active, trialing, or past due
  while Stripe retries the card), and falls back when it ends, or when they leave, exactly as when
  a personal Pro ends (``accounts.billing.services.pro_lost``) unless they have Pro another way.
- Seats follow the membership. The transaction that adds or removes a member writes the intent,
  ``seats_wanted``; on commit a task sets the subscription item's quantity at Stripe (prorated)
  and records ``seats_billed``. Setting a quantity is absolute, so pushing twice is harmless; one
  push per subscription runs at a time (a transaction-level advisory lock, so membership changes
  are never held up by a Stripe call), and the beat retries any row whose two counts differ.
- Nobody pays twice, as with personal Pro: Checkout is refused while a subscription is live, two
  admins starting it at once get the one open session kept on the row
  (``accounts.billing.services.checkout_open``), and a second live subscription that still
  arrives is cancelled and refunded when it is read, and written to the organization's log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import stripe
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.billing import plans, services, stripe_api
from accounts.billing.services import BillingError
from accounts.languages import owner_language
from accounts.models import Subscription, User
from multical.lib.email import send_templated_email
from orgs.models import Membership, Organization, OrgEvent, OrgSubscription, Role
from orgs.services import require_admin

logger = logging.getLogger(__name__)

# A key of its own for pg_try_advisory_xact_lock, with the row's id as the second half.
_PUSH_LOCK_CLASS = 0x5EA7


def seat_price_id() -> str:
    return settings.STRIPE_SEAT_PRICE_ID or settings.STRIPE_PRO_PRICE_ID


def seats_in_use(organization: Organization) -> int:
    """What the organization pays for: one seat per member, whatever their role."""
    return Membership.objects.filter(organization=organization).count()


# Whose plan it decides -------------------------------------------------------------------------


def pro_through_an_organization(user: User) -> str | None:
    """Registered as a plan source: the name of an organization the user is a member of whose
    subscription is live, if any."""
    return (
        OrgSubscription.objects.filter(
            organization__memberships__user=user, status__in=Subscription.LIVE_STATUSES
        )
        .order_by("organization__name")
        .values_list("organization__name", flat=True)
        .first()
    )


# Checkout and the portal ------------------------------------------------------------------------


def org_checkout_start(*, membership: Membership) -> str:
    """The address of a Stripe Checkout page subscribing the organization, one seat per member:
    the one already open for it if any. Owners and admins only; refused while a subscription is
    live."""
    require_admin(membership)
    if not plans.billing_configured():
        raise BillingError(
            _("Billing is not set up on this server: every feature is already yours.")
        )
    organization = membership.organization
    with transaction.atomic():
        row = _row_with_customer(membership)
        url = None
        if not row.is_live:
            url = services.checkout_open(
                row=row,
                params={
                    "mode": "subscription",
                    "customer": row.stripe_customer_id,
                    # Not a user's id: personal billing never takes this checkout for its own.
                    "client_reference_id": f"org-{organization.id}",
                    "line_items": [{"price": seat_price_id(), "quantity": row.seats_wanted}],
                    "success_url": services.absolute_url(
                        reverse("console:billing", args=[organization.id])
                    )
                    + "?session_id={CHECKOUT_SESSION_ID}",
                    "cancel_url": services.absolute_url(
                        reverse("console:billing", args=[organization.id])
                    ),
                    "subscription_data": {"metadata": {"organization_id": str(organization.id)}},
                },
                refresh=lambda: org_subscription_refresh(row=row),
            )
    if url is None:
        raise BillingError(_("The organization is subscribed already."))
    return url


def org_portal_start(*, membership: Membership) -> str:
    """The address of the organization's Stripe Customer Portal. Owners and admins only."""
    require_admin(membership)
    row = OrgSubscription.objects.filter(organization=membership.organization).first()
    if not plans.billing_configured() or row is None:
        raise BillingError(_("There is no billing account to manage yet."))
    session = services.stripe_call(
        lambda api: api.v1.billing_portal.sessions.create(
            params={
                "customer": row.stripe_customer_id,
                "return_url": services.absolute_url(
                    reverse("console:billing", args=[membership.organization_id])
                ),
            }
        )
    )
    return session.url


def org_checkout_return(*, membership: Membership, session_id: str) -> OrgSubscription | None:
    """An admin is back from Checkout: read the subscription now rather than wait for the webhook.
    Only a session of the organization's own customer is accepted; None otherwise."""
    require_admin(membership)
    row = OrgSubscription.objects.filter(organization=membership.organization).first()
    if row is None or not session_id.isascii() or not plans.billing_configured():
        return None
    session = services.stripe_call(lambda api: api.v1.checkout.sessions.retrieve(session_id))
    if session.customer != row.stripe_customer_id:
        return None
    with transaction.atomic():
        row = OrgSubscription.objects.select_for_update().get(pk=row.pk)
        org_subscription_refresh(row=row)
    return row


def _row_with_customer(membership: Membership) -> OrgSubscription:
    """The organization's row, creating its Stripe customer on first use (one per organization,
    even when two admins race: the organization's row is locked, and an idempotency key backs it
    up). Its ``seats_wanted`` is the number of members now. Called in a transaction, the row
    stays locked until that ends."""
    organization = membership.organization
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).exists()
        row = OrgSubscription.objects.select_for_update().filter(organization=organization).first()
        if row is None:
            customer = services.stripe_call(
                lambda api: api.v1.customers.create(
                    params={
                        "email": membership.user.email,
                        "metadata": {"organization_id": str(organization.id)},
                    },
                    options={"idempotency_key": f"multical-org-customer-{organization.id}"},
                )
            )
            row = OrgSubscription(organization=organization, stripe_customer_id=customer.id)
        row.payer = membership.user
        row.seats_wanted = seats_in_use(organization)
        row.save()
    return row


# Webhook events ---------------------------------------------------------------------------------


def org_stripe_event(kind: str, payload: Mapping[str, Any]) -> bool:
    """Registered with personal billing's webhook: events about an organization's customer."""
    customer_id = services.event_customer_id(payload)
    if not customer_id:
        return False
    row = OrgSubscription.objects.select_for_update().filter(stripe_customer_id=customer_id).first()
    if row is None:
        return False
    org_subscription_refresh(row=row, payment_failed=kind == "invoice.payment_failed")
    return True


def org_subscription_refresh(*, row: OrgSubscription, payment_failed: bool = False) -> None:
    """Store what Stripe says about the organization's subscription now, and act on a change:
    members who lose Pro fall back as a personal Pro's end has them; seats Stripe does not bill
    yet are pushed. ``row`` must be locked (select_for_update) by the caller's transaction."""
    read = services.subscriptions_read(row.stripe_customer_id)
    if row.organization_id is not None:
        for duplicate_id in read.duplicates:
            # Stripe's doing and ours, not a member's: the log names no one.
            OrgEvent.objects.create(
                organization_id=row.organization_id,
                action=OrgEvent.Action.DUPLICATE_CANCELLED,
                subject=duplicate_id,
            )
    current = read.current
    was_live = row.is_live
    if current is None:
        row.status, row.stripe_subscription_id, row.stripe_item_id = "", "", ""
        row.current_period_end, row.cancel_at_period_end = None, False
    else:
        row.stripe_subscription_id = current["id"]
        row.status = current["status"]
        row.current_period_end = services.period_end(current)
        row.cancel_at_period_end = bool(current.get("cancel_at_period_end"))
        item = _seat_item(current)
        row.stripe_item_id = item.get("id", "") if item else ""
        row.seats_billed = int(item.get("quantity") or 0) if item else 0
    newly_failed = False
    if not row.is_live:
        row.payment_failed_at = None
    elif payment_failed:
        newly_failed = row.payment_failed_at is None
        row.payment_failed_at = row.payment_failed_at or timezone.now()
    elif row.status != Subscription.Status.PAST_DUE:
        row.payment_failed_at = None
    if was_live and not row.is_live:
        row.ended_at = timezone.now()
    elif row.is_live:
        row.ended_at = None
    row.save()
    if was_live != row.is_live and row.organization_id is not None:
        # Stripe's doing, not a member's: the log names no one.
        action = OrgEvent.Action.SUBSCRIBED if row.is_live else OrgEvent.Action.SUBSCRIPTION_ENDED
        OrgEvent.objects.create(organization_id=row.organization_id, action=action)
    if was_live and not row.is_live and row.organization_id is not None:
        for user in User.objects.filter(org_memberships__organization_id=row.organization_id):
            if user.deletion_requested_at is None:
                services.pro_lost(user=user)
    if row.is_live and row.seats_wanted != row.seats_billed:
        _push_on_commit(row.pk)
    if newly_failed and row.organization_id is not None:
        organization_id = row.organization_id
        transaction.on_commit(lambda: _send_payment_failed_emails(organization_id))


def _send_payment_failed_emails(organization_id: uuid.UUID) -> None:
    """Once per failed streak, to the owners and admins: they are the ones who can fix the card."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return
    admins = Membership.objects.filter(
        organization=organization,
        role__in=[Role.OWNER, Role.ADMIN],
        user__deletion_requested_at__isnull=True,
    ).select_related("user")
    billing_url = services.absolute_url(reverse("console:billing", args=[organization.id]))
    for membership in admins:
        send_templated_email(
            to=membership.user.email,
            template="orgs/email/seats-payment-failed",
            context={"organization_name": organization.name, "billing_url": billing_url},
            language=owner_language(membership.user),
        )


def _seat_item(subscription: Mapping[str, Any]) -> Mapping[str, Any] | None:
    items = subscription.get("items", {}).get("data", [])
    priced = [item for item in items if (item.get("price") or {}).get("id") == seat_price_id()]
    return (priced or items or [None])[0]


# Seats ------------------------------------------------------------------------------------------


@receiver(post_save, sender=Membership, dispatch_uid="orgs.billing.member_joined")
def _member_joined(sender: type, instance: Membership, created: bool, **kwargs: Any) -> None:
    if created:
        seats_recount(organization_id=instance.organization_id)


@receiver(post_delete, sender=Membership, dispatch_uid="orgs.billing.member_left")
def _member_left(sender: type, instance: Membership, **kwargs: Any) -> None:
    row = seats_recount(organization_id=instance.organization_id)
    if row is None or not row.is_live:
        return
    user = User.objects.filter(pk=instance.user_id, deletion_requested_at__isnull=True).first()
    if user is not None:
        services.pro_lost(user=user)


@receiver(pre_delete, sender=Organization, dispatch_uid="orgs.billing.organization_deleting")
def _organization_deleting(sender: type, instance: Organization, **kwargs: Any) -> None:
    # The deletion unlinks the subscription before it removes the memberships, so the members of
    # a paid organization are noted now and fall back once it is gone (below).
    paid = OrgSubscription.objects.filter(
        organization=instance, status__in=Subscription.LIVE_STATUSES
    ).exists()
    instance._paid_member_ids = (  # type: ignore[attr-defined]
        list(Membership.objects.filter(organization=instance).values_list("user_id", flat=True))
        if paid
        else []
    )


@receiver(post_delete, sender=Organization, dispatch_uid="orgs.billing.organization_deleted")
def _organization_deleted(sender: type, instance: Organization, **kwargs: Any) -> None:
    member_ids = getattr(instance, "_paid_member_ids", [])
    for user in User.objects.filter(pk__in=member_ids, deletion_requested_at__isnull=True):
        services.pro_lost(user=user)


def seats_recount(*, organization_id: uuid.UUID | str) -> OrgSubscription | None:
    """Write the number of members as the seats wanted, in the caller's transaction, and push it to
    Stripe once that commits. The row is locked before counting, so two members joining at once
    are counted one after the other (the second count sees the first's membership)."""
    with transaction.atomic():
        row = (
            OrgSubscription.objects.select_for_update()
            .filter(organization_id=organization_id)
            .first()
        )
        if row is None:
            return None
        seats = Membership.objects.filter(organization_id=organization_id).count()
        if row.seats_wanted != seats:
            row.seats_wanted = seats
            row.save(update_fields=["seats_wanted", "updated_at"])
        if row.is_live and row.seats_wanted != row.seats_billed:
            _push_on_commit(row.pk)
    return row


def _push_on_commit(row_id: int) -> None:
    from orgs.tasks import push_seats  # the task module imports this one

    transaction.on_commit(lambda: push_seats.delay(row_id))


def seats_push(*, row_id: int) -> bool:
    """Set the subscription item's quantity at Stripe to the seats wanted, and record what Stripe
    bills. True if it pushed (the caller looks again: members may have changed meanwhile); False
    when there is nothing to do or another push of this row is running.

    Raises ``stripe_api.StripeUnavailable`` when Stripe cannot be reached (the task retries)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_PUSH_LOCK_CLASS, row_id])
            (locked,) = cursor.fetchone() or (False,)
        if not locked:
            return False
        row = OrgSubscription.objects.filter(pk=row_id).first()
        if (
            row is None
            or not row.is_live
            or not row.stripe_item_id
            or row.seats_wanted == row.seats_billed
            or row.seats_wanted < 1
        ):
            return False
        wanted = row.seats_wanted
        try:
            item = stripe_api.client().v1.subscription_items.update(
                row.stripe_item_id,
                params={"quantity": wanted, "proration_behavior": "create_prorations"},
            )
        except stripe.StripeError as error:
            if stripe_api.is_transient(error):
                raise stripe_api.StripeUnavailable(str(error)) from error
            # The subscription ended at Stripe meanwhile, or the item is gone: its events bring
            # the row up to date, and nothing is pushed to a subscription that is not live.
            logger.warning("Stripe refused the seats of %s: %s", row_id, type(error).__name__)
            return False
        OrgSubscription.objects.filter(pk=row_id).update(
            seats_billed=item.quantity or 0, updated_at=timezone.now()
        )
        logger.info("Seats of %s set to %d", row_id, wanted)
    return True


def seats_pending() -> list[int]:
    """Live subscriptions whose seats Stripe does not bill as wanted yet (for the beat)."""
    return list(
        OrgSubscription.objects.filter(status__in=Subscription.LIVE_STATUSES)
        .exclude(stripe_item_id="")
        .exclude(seats_wanted=F("seats_billed"))
        .values_list("pk", flat=True)
    )


def orphans_cancel() -> int:
    """Cancel at Stripe the subscriptions of organizations that were deleted; how many. The rows
    stay (ids and statuses only) as the record of what was billed."""
    cancelled = 0
    for row in OrgSubscription.objects.filter(
        organization__isnull=True, status__in=Subscription.LIVE_STATUSES
    ):
        try:
            stripe_api.client().v1.subscriptions.cancel(row.stripe_subscription_id)
        except stripe.StripeError as error:
            if stripe_api.is_transient(error):
                raise stripe_api.StripeUnavailable(str(error)) from error
            if not stripe_api.is_missing(error):
                logger.error("Stripe refused to cancel row %s: %s", row.pk, type(error).__name__)
                continue
        with transaction.atomic():
            locked = OrgSubscription.objects.select_for_update().get(pk=row.pk)
            org_subscription_refresh(row=locked)
        cancelled += 1
        logger.info("Cancelled the subscription of deleted organization row %s", row.pk)
    return cancelled
