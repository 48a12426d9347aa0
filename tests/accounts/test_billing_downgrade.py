"""When Pro ends: everything is kept, the newest rules and pages beyond the Free limits are switched
off with the reason shown and an e-mail, and upgrading again offers them back, unasked for nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.billing.plans import Plan, plan_for
from booking.models import Booking, BookingPage, Profile
from calendars.models import Connection
from syncrules import services as rule_services
from syncrules.models import SyncRule
from tests.accounts.test_billing_webhooks import deliver_all, post_event, subscribe
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.rule_page_helpers import SyncRuleFactory

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:settings")
RESUME = reverse("billing:resume")


@pytest.fixture
def pro_world(stripe_fake, owner, enqueued):
    """A Pro user with three accounts, three rules on (and one they turned off themselves), two
    open pages (and one they paused), and a booking on the newest page."""
    subscription_id = subscribe(stripe_fake, owner)
    calendars = []
    for number in range(3):
        connection = ConnectionFactory(user=owner, label=f"account {number}")
        calendars.append(CalendarFactory(connection=connection, name=f"Calendar {number}"))
    now = timezone.now()
    rules = {}
    for age, name in enumerate(["Oldest", "Middle", "Newest"]):
        rules[name] = SyncRuleFactory(
            user=owner,
            name=name,
            sources=[calendars[age]],
            targets=[calendars[(age + 1) % 3]],
            created_at=now - timedelta(days=10 - age),
        )
    rules["Off"] = SyncRuleFactory(user=owner, name="Off", enabled=False)
    Profile.objects.create(user=owner, handle="ada", display_name="Ada")
    pages = {
        title: BookingPage.objects.create(
            owner=owner,
            title=title,
            slug=title.lower(),
            durations=[30],
            active=title != "Closed",
            created_at=now - timedelta(days=10 - age),
        )
        for age, title in enumerate(["First page", "Closed", "Second page"])
    }
    booking = Booking.objects.create(
        owner=owner,
        page=pages["Second page"],
        title="Intro",
        start=now + timedelta(days=3),
        end=now + timedelta(days=3, minutes=30),
        attendee_name="Grace",
        attendee_email="grace@attendee.example",
        location=BookingPage.Location.NONE,
        submission_key="k1",
    )
    return {"subscription": subscription_id, "rules": rules, "pages": pages, "booking": booking}


def end_pro(stripe_fake, world, capture) -> None:
    with capture(execute=True):
        deliver_all(stripe_fake, [stripe_fake.cancel(world["subscription"])])


def on(user) -> list[str]:
    return list(SyncRule.objects.filter(user=user, enabled=True).values_list("name", flat=True))


def open_pages(user) -> list[str]:
    return list(BookingPage.objects.filter(owner=user, active=True).values_list("title", flat=True))


def paused_rules(user) -> list[str]:
    """The rules marked as paused by the plan (whether or not they are still off)."""
    marked = SyncRule.objects.filter(user=user, plan_paused_at__isnull=False)
    return list(marked.values_list("name", flat=True))


def paused_pages(user) -> list[str]:
    marked = BookingPage.objects.filter(owner=user, plan_paused_at__isnull=False)
    return list(marked.values_list("title", flat=True))


def test_the_end_of_pro_pauses_the_newest_beyond_the_limits_and_keeps_everything(
    stripe_fake, owner, pro_world, enqueued, django_capture_on_commit_callbacks
):
    rules_before, pages_before = SyncRule.objects.count(), BookingPage.objects.count()

    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)

    assert plan_for(owner) == Plan.FREE
    assert on(owner) == ["Oldest"]
    assert open_pages(owner) == ["First page"]
    assert sorted(paused_rules(owner)) == ["Middle", "Newest"]
    assert paused_pages(owner) == ["Second page"]
    # Nothing is deleted: rules, pages, bookings and every calendar account stay.
    assert (SyncRule.objects.count(), BookingPage.objects.count()) == (rules_before, pages_before)
    assert Booking.objects.filter(pk=pro_world["booking"].pk).exists()
    assert Connection.objects.filter(user=owner).count() == 3
    # Switching rules off takes their blocks out of the calendars, as turning a rule off does.
    assert enqueued.stale_removals >= 1


def test_what_the_user_had_switched_off_themselves_is_not_marked_as_paused_by_the_plan(
    stripe_fake, owner, pro_world, django_capture_on_commit_callbacks
):
    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)

    assert "Off" not in paused_rules(owner)
    assert "Closed" not in paused_pages(owner)


def test_the_user_is_told_by_e_mail_what_was_paused(
    stripe_fake, owner, pro_world, django_capture_on_commit_callbacks
):
    mail.outbox.clear()

    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)

    (message,) = mail.outbox
    assert message.to == [owner.email]
    assert message.subject == "Your Multical Pro plan has ended"
    assert "sync rule “Middle”" in message.body and "sync rule “Newest”" in message.body
    assert "booking page “Second page”" in message.body
    assert "Oldest" not in message.body
    assert "Nothing was deleted" in message.body


def test_the_dashboard_settings_and_lists_say_why_things_are_off(
    stripe_fake, owner, owner_client, pro_world, django_capture_on_commit_callbacks
):
    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)

    home = owner_client.get(reverse("dashboard")).content.decode()
    assert "Paused when your Pro plan ended" in home
    assert "2 sync rules and 1 booking page are switched off" in home
    settings_page = owner_client.get(SETTINGS).content.decode()
    assert "Paused when Pro ended" in settings_page
    assert "Middle" in settings_page and "Second page" in settings_page
    assert f'action="{RESUME}"' not in settings_page  # on Free there is nothing to resume to
    rules_page = owner_client.get(reverse("syncrules:rule_list")).content.decode()
    assert rules_page.count("Paused when your Pro plan ended") == 2
    pages_page = owner_client.get(reverse("booking:page_list")).content.decode()
    assert pages_page.count("Paused when your Pro plan ended") == 1


def test_a_paused_rule_can_be_swapped_in_by_hand_on_free_and_is_no_longer_marked(
    stripe_fake, owner, pro_world, django_capture_on_commit_callbacks
):
    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)
    rules = {rule.name: rule for rule in SyncRule.objects.filter(user=owner)}

    rule_services.rule_set_enabled(rule=rules["Oldest"], enabled=False)
    rule_services.rule_set_enabled(rule=rules["Newest"], enabled=True)

    assert on(owner) == ["Newest"]
    assert paused_rules(owner) == ["Middle"]
    rules["Newest"].refresh_from_db()
    assert rules["Newest"].plan_paused_at is None


def test_upgrading_again_switches_nothing_on_by_itself_but_offers_to(
    stripe_fake, owner, owner_client, pro_world, django_capture_on_commit_callbacks
):
    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)
    subscribe(stripe_fake, owner)

    assert plan_for(owner) == Plan.PRO
    assert on(owner) == ["Oldest"]
    settings_page = owner_client.get(SETTINGS).content.decode()
    assert f'action="{RESUME}"' in settings_page

    response = owner_client.post(RESUME, follow=True)

    assert "3 paused items are on again." in response.content.decode()
    assert sorted(on(owner)) == ["Middle", "Newest", "Oldest"]
    assert sorted(open_pages(owner)) == ["First page", "Second page"]
    assert paused_rules(owner) == paused_pages(owner) == []
    assert "Paused when" not in owner_client.get(reverse("dashboard")).content.decode()


def test_resuming_on_free_is_refused(
    stripe_fake, owner, owner_client, pro_world, django_capture_on_commit_callbacks
):
    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)

    response = owner_client.post(RESUME, follow=True)

    assert "Upgrade to Pro to switch everything back on." in response.content.decode()
    assert on(owner) == ["Oldest"]


def test_a_replayed_or_late_end_pauses_nothing_more(
    stripe_fake, owner, pro_world, django_capture_on_commit_callbacks
):
    end_pro(stripe_fake, pro_world, django_capture_on_commit_callbacks)
    rules = SyncRule.objects.filter(user=owner)
    rule_services.rule_set_enabled(rule=rules.get(name="Oldest"), enabled=False)
    rule_services.rule_set_enabled(rule=rules.get(name="Newest"), enabled=True)
    mail.outbox.clear()

    for event in stripe_fake.events:  # everything Stripe ever sent, again
        assert post_event(stripe_fake, event).status_code == 200

    assert on(owner) == ["Newest"]
    assert mail.outbox == []


def test_an_end_that_fits_the_free_plan_pauses_nothing(
    stripe_fake, owner, enqueued, django_capture_on_commit_callbacks
):
    subscription_id = subscribe(stripe_fake, owner)
    SyncRuleFactory(user=owner, name="Only")

    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(stripe_fake, [stripe_fake.cancel(subscription_id)])

    assert on(owner) == ["Only"]
    assert paused_rules(owner) == paused_pages(owner) == []
    (message,) = mail.outbox
    assert "nothing was switched off" in message.body
