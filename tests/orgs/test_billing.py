"""Billing per seat against the fake Stripe: an organization pays one seat per member, members have
Pro while its subscription is live (past due included), seats follow the membership at Stripe,
and when the subscription ends members fall back exactly as when a personal Pro ends."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.billing.plans import Plan, plan_for, plan_overview
from accounts.billing.services import BillingError
from accounts.models import StripeEvent, Subscription
from orgs import billing
from orgs import services as org_services
from orgs.models import Membership, OrgEvent, OrgSubscription, Role
from orgs.services import OrgRefused
from orgs.tasks import push_pending_seats
from syncrules.models import SyncRule
from tests.accounts.test_billing_webhooks import deliver_all, post_event, subscribe
from tests.factories import UserFactory
from tests.syncrules.rule_page_helpers import SyncRuleFactory

pytestmark = pytest.mark.django_db

PRO_ENDED = "Your Multical Pro plan has ended"


@pytest.fixture
def organization(owner):
    return org_services.organization_create(user=owner, name="Acme", ip_address=None)


@pytest.fixture
def admin(organization, owner):
    return Membership.objects.get(organization=organization, user=owner)


def join(organization, email: str, role: Role = Role.MEMBER) -> Membership:
    return Membership.objects.create(
        organization=organization, user=UserFactory(email=email), role=role
    )


def org_subscribe(fake, admin) -> OrgSubscription:
    """An admin goes through Checkout and Stripe's events arrive: the organization's row."""
    session_id = billing.org_checkout_start(membership=admin).rsplit("/", 1)[1]
    deliver_all(fake, fake.complete_checkout(session_id))
    return OrgSubscription.objects.get(organization=admin.organization)


def quantity(fake, row: OrgSubscription) -> int:
    (item,) = fake.subscriptions[row.stripe_subscription_id]["items"]["data"]
    return item["quantity"]


# Checkout ---------------------------------------------------------------------------------------


def test_checkout_bills_one_seat_per_member_and_gives_each_member_pro(
    stripe_fake, organization, admin
):
    members = [join(organization, f"m{n}@example.com").user for n in range(2)]
    assert [plan_for(user) for user in [admin.user, *members]] == [Plan.FREE] * 3

    row = org_subscribe(stripe_fake, admin)

    assert (row.status, row.seats_wanted, row.seats_billed) == ("active", 3, 3)
    assert quantity(stripe_fake, row) == 3
    assert row.stripe_item_id and row.current_period_end is not None
    assert [plan_for(user) for user in [admin.user, *members]] == [Plan.PRO] * 3
    assert stripe_fake.customers[row.stripe_customer_id]["metadata"] == {
        "organization_id": str(organization.id)
    }


def test_a_members_settings_say_the_organization_pays_for_their_pro(
    stripe_fake, organization, admin
):
    member = join(organization, "m@example.com").user
    org_subscribe(stripe_fake, admin)
    client = Client()
    client.force_login(member)

    page = client.get(reverse("accounts:settings")).content.decode()

    assert plan_overview(member).pro_through == "Acme"
    assert "Acme pays for your seat while you are a member." in page


def test_only_owners_and_admins_start_checkout(stripe_fake, organization):
    member = join(organization, "member@example.com")

    with pytest.raises(OrgRefused):
        billing.org_checkout_start(membership=member)
    assert stripe_fake.api_requests("POST", "/checkout") == []


def test_an_organizations_checkout_is_not_taken_for_the_payers_own(
    stripe_fake, organization, admin, outsider
):
    org_subscribe(stripe_fake, admin)

    assert not Subscription.objects.filter(user=admin.user).exists()
    assert plan_for(outsider) == Plan.FREE


def test_a_replayed_organization_event_changes_nothing(stripe_fake, organization, admin):
    row = org_subscribe(stripe_fake, admin)
    ended = stripe_fake.cancel(row.stripe_subscription_id)
    assert post_event(stripe_fake, ended).status_code == 200
    events = StripeEvent.objects.count()

    for event in [ended, *stripe_fake.events[:2]]:
        assert post_event(stripe_fake, event).status_code == 200

    assert StripeEvent.objects.count() == events
    assert OrgSubscription.objects.get(pk=row.pk).status == "canceled"
    assert plan_for(admin.user) == Plan.FREE


# Paying once -------------------------------------------------------------------------------------


def session_id_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_checkout_is_refused_while_the_subscription_is_live(stripe_fake, organization, admin):
    org_subscribe(stripe_fake, admin)
    sessions = len(stripe_fake.checkout_sessions)
    client = Client()
    client.force_login(admin.user)

    with pytest.raises(BillingError):
        billing.org_checkout_start(membership=admin)
    response = client.post(reverse("console:billing_checkout", args=[organization.id]), follow=True)

    assert "The organization is subscribed already." in response.content.decode()
    assert len(stripe_fake.checkout_sessions) == sessions


def test_checkout_started_again_returns_the_session_still_open(stripe_fake, organization, admin):
    first = billing.org_checkout_start(membership=admin)
    second = billing.org_checkout_start(membership=admin)

    assert first == second
    (created,) = stripe_fake.api_requests("POST", "/checkout/sessions")
    expires_at = int(created.params["expires_at"])
    assert 30 * 60 < expires_at - timezone.now().timestamp() <= 24 * 3600
    row = OrgSubscription.objects.get(organization=organization)
    assert row.checkout_session_id == session_id_of(first)
    assert int(row.checkout_expires_at.timestamp()) == expires_at


def test_a_session_nearly_over_is_closed_before_a_new_one_opens(stripe_fake, organization, admin):
    first = session_id_of(billing.org_checkout_start(membership=admin))
    stripe_fake.expire_later(first, 60)

    second = session_id_of(billing.org_checkout_start(membership=admin))

    assert second != first
    assert stripe_fake.checkout_sessions[first]["status"] == "expired"
    assert stripe_fake.checkout_sessions[second]["status"] == "open"


def test_a_session_paid_before_its_events_arrive_opens_no_other(stripe_fake, organization, admin):
    session_id = session_id_of(billing.org_checkout_start(membership=admin))
    stripe_fake.complete_checkout(session_id)  # the events are still on their way

    with pytest.raises(BillingError):
        billing.org_checkout_start(membership=admin)

    assert len(stripe_fake.checkout_sessions) == 1
    assert OrgSubscription.objects.get(organization=organization).is_live


@pytest.mark.django_db(transaction=True)
def test_two_admins_starting_checkout_at_once_get_one_session(stripe_fake, owner):
    organization = org_services.organization_create(user=owner, name="Acme", ip_address=None)
    admins = [
        Membership.objects.select_related("organization", "user").get(pk=membership.pk)
        for membership in [
            Membership.objects.get(organization=organization, user=owner),
            join(organization, "second.admin@example.com", Role.ADMIN),
        ]
    ]
    stripe_fake.latency = 0.3  # each Stripe call is slow enough for the two starts to overlap
    urls = race([lambda m=m: billing.org_checkout_start(membership=m) for m in admins])

    assert urls[0] == urls[1]
    assert len(stripe_fake.api_requests("POST", "/checkout/sessions")) == 1
    assert len(stripe_fake.customers) == 1


def race(starts: list) -> list:
    """Run ``starts`` at the same moment, each in a thread with its own database connection; their
    answers, in order (any error is raised here)."""
    barrier = threading.Barrier(len(starts))
    answers: list = [None] * len(starts)
    errors: list = []

    def run(index: int) -> None:
        try:
            barrier.wait(10)
            answers[index] = starts[index]()
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(starts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return answers


def test_a_second_subscription_is_cancelled_and_refunded_at_once(stripe_fake, organization, admin):
    member = join(organization, "m@example.com").user
    first = session_id_of(billing.org_checkout_start(membership=admin))
    # A second tab's session, opened before the first was stored (as two Checkouts once could).
    second = stripe_fake.checkout_sessions[first] | {"id": "cs_test_second_tab", "status": "open"}
    stripe_fake.checkout_sessions[second["id"]] = second
    stripe_fake.checkout_quantities[second["id"]] = 2
    deliver_all(stripe_fake, stripe_fake.complete_checkout(first))
    kept = OrgSubscription.objects.get(organization=organization).stripe_subscription_id

    deliver_all(stripe_fake, stripe_fake.complete_checkout(second["id"]))

    duplicate = stripe_fake.checkout_sessions[second["id"]]["subscription"]
    assert stripe_fake.subscriptions[duplicate]["status"] == "canceled"
    assert stripe_fake.cancellations == [(duplicate, False, False)]
    invoice = stripe_fake.invoices[stripe_fake.subscriptions[duplicate]["latest_invoice"]]
    (payment,) = [p for p in stripe_fake.invoice_payments.values() if p["invoice"] == invoice["id"]]
    intent = payment["payment"]["payment_intent"]
    assert stripe_fake.refunded(intent) == invoice["amount_paid"] > 0
    assert (
        stripe_fake.customers[OrgSubscription.objects.get().stripe_customer_id].get("balance", 0)
        == 0
    )  # refunded, not credited as well
    assert stripe_fake.subscriptions[kept]["status"] == "active"
    row = OrgSubscription.objects.get(organization=organization)
    assert (row.stripe_subscription_id, row.status) == (kept, "active")
    assert list(
        OrgEvent.objects.filter(organization=organization)
        .exclude(action__in=[OrgEvent.Action.CREATED, OrgEvent.Action.JOINED])
        .values_list("action", "subject")
        .order_by("created_at", "id")
    ) == [(OrgEvent.Action.SUBSCRIBED, ""), (OrgEvent.Action.DUPLICATE_CANCELLED, duplicate)]
    assert plan_for(member) == Plan.PRO
    assert not any(PRO_ENDED in message.subject for message in mail.outbox)


def test_a_duplicates_events_delivered_again_refund_nothing_twice(stripe_fake, organization, admin):
    first = session_id_of(billing.org_checkout_start(membership=admin))
    second = stripe_fake.checkout_sessions[first] | {"id": "cs_test_second_tab", "status": "open"}
    stripe_fake.checkout_sessions[second["id"]] = second
    deliver_all(stripe_fake, stripe_fake.complete_checkout(first))
    events = stripe_fake.complete_checkout(second["id"])
    deliver_all(stripe_fake, events)
    refunds = len(stripe_fake.refunds)

    # Stripe delivers again (new event ids, say after a restore): nothing is live twice any more.
    for event in events:
        again = stripe_fake.event(event["type"], event["data"]["object"])
        assert post_event(stripe_fake, again).status_code == 200

    assert len(stripe_fake.refunds) == refunds == 1
    assert OrgEvent.objects.filter(action=OrgEvent.Action.DUPLICATE_CANCELLED).count() == 1


# Grace and the end ------------------------------------------------------------------------------


def test_a_failed_payment_keeps_pro_while_stripe_retries(stripe_fake, organization, admin):
    row = org_subscribe(stripe_fake, admin)

    deliver_all(stripe_fake, stripe_fake.payment_fails(row.stripe_subscription_id))

    row.refresh_from_db()
    assert (row.status, row.payment_failed_at is not None) == ("past_due", True)
    assert plan_for(admin.user) == Plan.PRO

    assert post_event(stripe_fake, stripe_fake.set_status(row.stripe_subscription_id, "unpaid"))
    assert plan_for(admin.user) == Plan.FREE


def test_owners_and_admins_are_told_once_per_failed_streak(
    stripe_fake, organization, admin, django_capture_on_commit_callbacks
):
    join(organization, "admin2@example.com", Role.ADMIN)
    join(organization, "member@example.com")
    row = org_subscribe(stripe_fake, admin)

    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(stripe_fake, stripe_fake.payment_fails(row.stripe_subscription_id))
        deliver_all(stripe_fake, stripe_fake.payment_fails(row.stripe_subscription_id))

    told = [m for m in mail.outbox if "organization's Multical payment" in m.subject]
    assert sorted(m.to[0] for m in told) == ["admin2@example.com", "owner@example.com"]
    assert f"/orgs/{organization.id}/billing/" in told[0].body


def test_when_the_subscription_ends_members_fall_back_as_when_pro_ends(
    stripe_fake, organization, admin, enqueued, django_capture_on_commit_callbacks
):
    member = join(organization, "member@example.com").user
    row = org_subscribe(stripe_fake, admin)
    now = timezone.now()
    older = SyncRuleFactory(user=member, name="Older", created_at=now - timedelta(days=2))
    newer = SyncRuleFactory(user=member, name="Newer", created_at=now - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(stripe_fake, stripe_fake.cancel(row.stripe_subscription_id))

    row.refresh_from_db()
    assert (row.status, row.ended_at is not None) == ("canceled", True)
    assert plan_for(member) == Plan.FREE
    assert SyncRule.objects.get(pk=older.pk).enabled
    assert not SyncRule.objects.get(pk=newer.pk).enabled
    assert sorted(message.to[0] for message in mail.outbox if message.subject == PRO_ENDED) == [
        "member@example.com",
        "owner@example.com",
    ]
    assert list(
        OrgEvent.objects.filter(
            organization=organization,
            action__in=[OrgEvent.Action.SUBSCRIBED, OrgEvent.Action.SUBSCRIPTION_ENDED],
        )
        .order_by("id")
        .values_list("action", "actor")
    ) == [("subscribed", None), ("subscription_ended", None)]


def test_a_member_with_pro_of_their_own_keeps_everything(
    stripe_fake, organization, admin, enqueued, django_capture_on_commit_callbacks
):
    member = join(organization, "member@example.com").user
    subscribe(stripe_fake, member)
    rules = [SyncRuleFactory(user=member, name=name) for name in ("One", "Two")]
    row = org_subscribe(stripe_fake, admin)

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(stripe_fake, stripe_fake.cancel(row.stripe_subscription_id))

    assert plan_for(member) == Plan.PRO
    assert all(SyncRule.objects.get(pk=rule.pk).enabled for rule in rules)
    assert [m.to for m in mail.outbox if m.subject == PRO_ENDED] == [["owner@example.com"]]


def test_a_personal_pro_ending_pauses_nothing_while_a_seat_is_paid(
    stripe_fake, organization, admin, enqueued
):
    member = join(organization, "member@example.com").user
    own = subscribe(stripe_fake, member)
    rules = [SyncRuleFactory(user=member, name=name) for name in ("One", "Two")]
    org_subscribe(stripe_fake, admin)

    assert post_event(stripe_fake, stripe_fake.cancel(own))

    assert plan_for(member) == Plan.PRO
    assert all(SyncRule.objects.get(pk=rule.pk).enabled for rule in rules)


# Seats follow the membership ---------------------------------------------------------------------


def test_a_member_joining_adds_a_prorated_seat(stripe_fake, organization, admin, run_tasks_inline):
    row = org_subscribe(stripe_fake, admin)

    with run_tasks_inline():
        join(organization, "new@example.com")

    row.refresh_from_db()
    assert (row.seats_wanted, row.seats_billed, quantity(stripe_fake, row)) == (2, 2, 2)
    assert stripe_fake.prorations == [
        (row.stripe_subscription_id, row.stripe_item_id, 1, 2, "create_prorations")
    ]


def test_a_removed_member_frees_a_seat_and_loses_pro_at_once(
    stripe_fake, organization, admin, run_tasks_inline
):
    target = join(organization, "leaving@example.com")
    row = org_subscribe(stripe_fake, admin)
    assert plan_for(target.user) == Plan.PRO

    with run_tasks_inline():
        org_services.membership_remove(membership=admin, target=target, ip_address=None)

    row.refresh_from_db()
    assert (row.seats_wanted, row.seats_billed, quantity(stripe_fake, row)) == (1, 1, 1)
    assert plan_for(target.user) == Plan.FREE
    assert [m.to for m in mail.outbox if m.subject == PRO_ENDED] == [["leaving@example.com"]]


def test_a_membership_change_rolled_back_changes_no_seat(
    stripe_fake, organization, admin, run_tasks_inline
):
    row = org_subscribe(stripe_fake, admin)

    with run_tasks_inline(), pytest.raises(RuntimeError), transaction.atomic():
        join(organization, "never@example.com")
        raise RuntimeError

    row.refresh_from_db()
    assert (row.seats_wanted, row.seats_billed, quantity(stripe_fake, row)) == (1, 1, 1)
    assert stripe_fake.api_requests("POST", "/subscription_items") == []


def test_seats_stripe_could_not_take_are_pushed_by_the_beat(
    stripe_fake, organization, admin, run_tasks_inline
):
    row = org_subscribe(stripe_fake, admin)
    # The push's message was lost: the intent is written, Stripe was never told.
    join(organization, "a@example.com")
    join(organization, "b@example.com")
    row.refresh_from_db()
    assert (row.seats_wanted, row.seats_billed) == (3, 1)
    assert billing.seats_pending() == [row.pk]

    with run_tasks_inline():
        push_pending_seats.delay()
        push_pending_seats.delay()  # a second beat at the same moment

    row.refresh_from_db()
    assert (row.seats_wanted, row.seats_billed, quantity(stripe_fake, row)) == (3, 3, 3)
    assert billing.seats_pending() == []
    assert len(stripe_fake.prorations) == 1


def test_a_push_leaves_the_row_to_the_one_already_pushing_it(stripe_fake, organization, admin):
    row = org_subscribe(stripe_fake, admin)
    join(organization, "a@example.com")
    holding, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", [billing._PUSH_LOCK_CLASS, row.pk]
                )
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    assert holding.wait(10)
    try:
        assert billing.seats_push(row_id=row.pk) is False
    finally:
        release.set()
        thread.join(10)

    assert billing.seats_push(row_id=row.pk) is True
    row.refresh_from_db()
    assert (row.seats_billed, quantity(stripe_fake, row)) == (2, 2)


def test_no_seat_is_pushed_to_a_subscription_that_ended(
    stripe_fake, organization, admin, run_tasks_inline
):
    row = org_subscribe(stripe_fake, admin)
    assert post_event(stripe_fake, stripe_fake.cancel(row.stripe_subscription_id))

    with run_tasks_inline():
        join(organization, "late@example.com")

    assert stripe_fake.api_requests("POST", "/subscription_items") == []
    assert billing.seats_pending() == []


def test_a_deleted_organizations_subscription_is_cancelled_by_the_beat(
    stripe_fake, organization, admin, run_tasks_inline
):
    row = org_subscribe(stripe_fake, admin)

    org_services.organization_delete(membership=admin)
    with run_tasks_inline():
        push_pending_seats.delay()

    row.refresh_from_db()
    assert (row.organization_id, row.status) == (None, "canceled")
    assert stripe_fake.subscriptions[row.stripe_subscription_id]["status"] == "canceled"


def test_members_of_a_deleted_paid_organization_fall_back_at_once(
    stripe_fake, organization, admin, enqueued, django_capture_on_commit_callbacks
):
    member = join(organization, "member@example.com").user
    org_subscribe(stripe_fake, admin)
    rules = [SyncRuleFactory(user=member, name=name) for name in ("One", "Two")]

    with django_capture_on_commit_callbacks(execute=True):
        org_services.organization_delete(membership=admin)

    assert plan_for(member) == Plan.FREE
    assert sum(SyncRule.objects.get(pk=rule.pk).enabled for rule in rules) == 1
    assert sorted(m.to[0] for m in mail.outbox if m.subject == PRO_ENDED) == [
        "member@example.com",
        "owner@example.com",
    ]


def test_billing_keeps_only_ids_counts_and_statuses(
    stripe_fake, organization, admin, monkeypatch, django_capture_on_commit_callbacks
):
    row = org_subscribe(stripe_fake, admin)
    sent = []
    monkeypatch.setattr("orgs.tasks.push_seats.delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        join(organization, "private.person@example.com")

    stored = OrgSubscription.objects.filter(pk=row.pk).values().get()
    assert not any("@" in str(value) or "Acme" in str(value) for value in stored.values())
    assert sent == [(row.pk,)]


@pytest.mark.django_db(transaction=True)
def test_two_members_joining_at_once_are_both_counted(owner, monkeypatch):
    monkeypatch.setattr("orgs.tasks.push_seats.delay", lambda *args: None)
    organization = org_services.organization_create(user=owner, name="Acme", ip_address=None)
    row = OrgSubscription.objects.create(
        organization=organization, stripe_customer_id="cus_race", seats_wanted=1
    )
    first_counted, first_may_commit = threading.Event(), threading.Event()
    people = [UserFactory(email="first@example.com"), UserFactory(email="second@example.com")]
    errors = []

    def first():
        try:
            with transaction.atomic():
                Membership.objects.create(organization=organization, user=people[0])
                first_counted.set()
                first_may_commit.wait(10)
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    def second():
        try:
            assert first_counted.wait(10)
            Membership.objects.create(organization=organization, user=people[1])
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_counted.wait(10)
    threads[1].join(0.5)  # the second is held at the row's lock until the first commits
    assert threads[1].is_alive()
    first_may_commit.set()
    for thread in threads:
        thread.join(10)

    assert errors == []
    row.refresh_from_db()
    assert row.seats_wanted == 3
