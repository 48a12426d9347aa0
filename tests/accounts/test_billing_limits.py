"""The Free plan's limits, enforced by the services and shown where they bite with a way to upgrade:
1 sync rule on, 2 calendar accounts connected, 1 booking page open. Nothing over a limit is saved
quietly, nothing under it is refused, Pro has no limits, and a server without Stripe has none."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.billing.plans import Limit, PlanLimitReached, limit_check
from booking.models import BookingPage, Profile
from calendars.models import Connection
from calendars.services import connection_connect_ics, connection_connect_oauth
from syncrules import services as rule_services
from syncrules.models import SyncRule
from tests.accounts.test_billing_webhooks import subscribe
from tests.booking.test_owner_pages import page_form_data
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.rule_page_helpers import SyncRuleFactory, rule_form_data

# Every sync the limits would queue is recorded, not sent.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]

CHECKOUT = reverse("billing:checkout")
NEW_RULE = reverse("syncrules:rule_create")
NEW_PAGE = reverse("booking:page_create")
CONNECT_ICS = reverse("calendars:connect_ics")


@pytest.fixture
def calendars(owner):
    """Two calendar accounts: a CalDAV login with two calendars, and an iCal link."""
    dav = ConnectionFactory(user=owner, label="owner @ dav.example.com")
    ics = ConnectionFactory(user=owner, kind=Connection.Kind.ICS, label="Holidays link")
    return {
        "Work": CalendarFactory(connection=dav, name="Work"),
        "Personal": CalendarFactory(connection=dav, name="Personal"),
        "Holidays": CalendarFactory(connection=ics, name="Holidays", read_only=True),
    }


@pytest.fixture
def first_rule(owner, calendars):
    return SyncRuleFactory(
        user=owner, name="First", sources=[calendars["Work"]], targets=[calendars["Personal"]]
    )


@pytest.fixture
def profile(owner):
    return Profile.objects.create(user=owner, handle="ada", display_name="Ada Lovelace")


@pytest.fixture
def first_page(owner, profile):
    return BookingPage.objects.create(owner=owner, title="Intro", slug="intro", durations=[30])


def new_rule_data(calendars, **changes):
    changes.setdefault("name", "Second")
    return rule_form_data(sources=[calendars["Holidays"]], targets=[calendars["Work"]], **changes)


def shows_upgrade_prompt(response, sentence: str) -> bool:
    html = response.content.decode()
    return sentence in html and f'<form method="post" action="{CHECKOUT}">' in html


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# Sync rules -------------------------------------------------------------------------------------


def test_a_second_rule_on_free_is_refused_with_the_upgrade_prompt_and_nothing_saved(
    stripe_fake, owner_client, calendars, first_rule
):
    response = owner_client.post(NEW_RULE, new_rule_data(calendars))

    assert response.status_code == 200
    assert shows_upgrade_prompt(
        response, "The Free plan runs 1 sync rule at a time, and you have 1 on."
    )
    assert 'value="Second"' in response.content.decode()  # what the user typed is still there
    assert list(SyncRule.objects.values_list("name", flat=True)) == ["First"]


def test_the_new_rule_page_says_so_before_the_form_is_filled_in(
    stripe_fake, owner_client, first_rule
):
    response = owner_client.get(NEW_RULE)

    assert shows_upgrade_prompt(response, "The Free plan runs 1 sync rule at a time")
    assert 'name="next" value="/rules/new/"' in response.content.decode()


def test_a_second_rule_can_be_saved_switched_off(stripe_fake, owner_client, calendars, first_rule):
    response = owner_client.post(NEW_RULE, new_rule_data(calendars, enabled=None))

    assert response.status_code == 302
    assert SyncRule.objects.get(name="Second").enabled is False


def test_turning_a_second_rule_on_is_refused_with_a_link_to_upgrade(
    stripe_fake, owner, owner_client, calendars, first_rule
):
    second = SyncRuleFactory(user=owner, enabled=False, sources=[calendars["Holidays"]])

    response = owner_client.post(
        reverse("syncrules:rule_set_enabled", args=[second.id]), {"enabled": "on"}
    )

    assert response.status_code == 302
    (message,) = messages_of(response)
    assert "The Free plan runs 1 sync rule at a time" in message
    assert f'<a href="{reverse("accounts:settings")}#plan">Upgrade to Pro</a>' in message
    second.refresh_from_db()
    assert second.enabled is False
    rules_page = owner_client.get(reverse("syncrules:rule_list")).content.decode()
    assert "Upgrade to Pro</a>" in rules_page  # the link is a link, not escaped text


def test_turning_a_rule_on_in_its_form_is_refused_too(
    stripe_fake, owner, owner_client, calendars, first_rule
):
    second = SyncRuleFactory(
        user=owner, enabled=False, sources=[calendars["Holidays"]], targets=[calendars["Work"]]
    )

    response = owner_client.post(
        reverse("syncrules:rule_edit", args=[second.id]), new_rule_data(calendars)
    )

    assert shows_upgrade_prompt(response, "The Free plan runs 1 sync rule at a time")
    second.refresh_from_db()
    assert second.enabled is False
    assert second.name != "Second"


def test_the_one_rule_on_can_be_swapped_for_another(stripe_fake, owner, calendars, first_rule):
    second = SyncRuleFactory(user=owner, enabled=False, sources=[calendars["Holidays"]])

    rule_services.rule_set_enabled(rule=first_rule, enabled=False)
    rule_services.rule_set_enabled(rule=second, enabled=True)

    assert list(SyncRule.objects.filter(enabled=True)) == [second]


def test_blocking_each_other_on_free_is_refused_since_it_makes_several_rules(
    stripe_fake, owner_client, calendars
):
    response = owner_client.post(
        reverse("syncrules:block_each_other"),
        {"calendars": [str(calendars["Work"].id), str(calendars["Personal"].id)]},
    )

    assert shows_upgrade_prompt(response, "The Free plan runs 1 sync rule at a time")
    assert SyncRule.objects.count() == 0


def test_the_rule_service_refuses_over_the_limit_whoever_calls_it(
    stripe_fake, owner, calendars, first_rule
):
    settings = rule_services.RuleSettings.of(first_rule)

    with pytest.raises(PlanLimitReached) as refused:
        rule_services.rule_create(
            user=owner,
            settings=settings,
            sources=[calendars["Holidays"]],
            targets=[calendars["Work"]],
        )

    assert (refused.value.limit, refused.value.allowed, refused.value.in_use) == (Limit.RULES, 1, 1)
    assert SyncRule.objects.count() == 1


# Calendar accounts ------------------------------------------------------------------------------


def test_a_third_calendar_account_on_free_is_refused_before_the_provider_is_asked(
    stripe_fake, owner, owner_client, calendars, feed
):
    feed.serve(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")

    response = owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Third"})

    assert response.status_code == 200
    assert shows_upgrade_prompt(
        response, "The Free plan connects 2 calendar accounts, and you have 2 connected."
    )
    assert feed.requests == []
    assert Connection.objects.filter(user=owner).count() == 2


def test_the_calendars_page_and_the_connect_pages_say_so_up_front(
    stripe_fake, owner_client, calendars
):
    for url in [reverse("calendars:calendar_list"), CONNECT_ICS]:
        assert shows_upgrade_prompt(owner_client.get(url), "The Free plan connects 2 calendar")


def test_accounts_count_not_calendars_and_zoom_disconnected_and_removed_ones_do_not(
    stripe_fake, owner, feed
):
    busy = ConnectionFactory(user=owner)  # one account holding three calendars
    for name in ["Work", "Personal", "Family"]:
        CalendarFactory(connection=busy, name=name)
    ConnectionFactory(user=owner, kind=Connection.Kind.ZOOM)
    ConnectionFactory(user=owner, status=Connection.Status.DISCONNECTED)
    ConnectionFactory(user=owner, status=Connection.Status.REMOVING)
    feed.serve(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-WR-CALNAME:Feed\r\nEND:VCALENDAR\r\n")

    connection_connect_ics(user=owner, url=feed.url, label="", ip_address=None)  # the second

    # Another link (the same link again would update the second, not add a third).
    with pytest.raises(PlanLimitReached):
        connection_connect_ics(
            user=owner, url=f"{feed.url}?calendar=3", label="Third", ip_address=None
        )


def test_reconnecting_a_disconnected_account_over_the_limit_is_refused(
    stripe_fake, owner, owner_client, calendars
):
    old = ConnectionFactory(user=owner, status=Connection.Status.DISCONNECTED)

    response = owner_client.post(
        reverse("calendars:connection_credentials", args=[old.id]), {"password": "new-password"}
    )

    assert shows_upgrade_prompt(response, "The Free plan connects 2 calendar accounts")
    old.refresh_from_db()
    assert old.status == Connection.Status.DISCONNECTED


def test_the_same_google_account_connected_again_is_not_one_more(
    stripe_fake, owner, calendars, google_fake
):
    calendars["Holidays"].connection.delete()  # one account left, room for one more
    connect = {"user": owner, "kind": Connection.Kind.GOOGLE, "ip_address": None}
    connection_connect_oauth(email=google_fake.email, secrets=google_fake.grant(), **connect)

    connection_connect_oauth(email=google_fake.email, secrets=google_fake.grant(), **connect)

    with pytest.raises(PlanLimitReached):
        connection_connect_oauth(email="someone.else@example.com", secrets={}, **connect)
    assert Connection.objects.filter(user=owner).count() == 2


def test_a_new_google_account_over_the_limit_shows_the_prompt_and_stores_nothing(
    stripe_fake, owner, owner_client, calendars, google_fake
):
    google_fake.add_calendar("primary", google_fake.email)
    consent = owner_client.post(reverse("calendars_oauth:google_connect"))["Location"]

    response = owner_client.get(
        reverse("calendars_oauth:google_callback"), google_fake.authorize(consent)
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was connected." in html
    assert shows_upgrade_prompt(response, "The Free plan connects 2 calendar accounts")
    assert 'name="next" value="/calendars/"' in html  # not back to the spent callback
    assert not Connection.objects.filter(kind=Connection.Kind.GOOGLE).exists()


# Booking pages ----------------------------------------------------------------------------------


def test_a_second_open_page_on_free_is_refused_with_the_prompt_and_nothing_saved(
    stripe_fake, owner_client, first_page
):
    response = owner_client.post(NEW_PAGE, page_form_data(title="Second call"))

    assert response.status_code == 200
    assert shows_upgrade_prompt(
        response, "The Free plan keeps 1 booking page open at a time, and you have 1 open."
    )
    assert list(BookingPage.objects.values_list("title", flat=True)) == ["Intro"]


def test_a_second_page_can_be_saved_paused(stripe_fake, owner_client, first_page):
    response = owner_client.post(NEW_PAGE, page_form_data(title="Second call", active=None))

    assert response.status_code == 302
    assert BookingPage.objects.get(title="Second call").active is False


def test_opening_a_paused_page_over_the_limit_is_refused(
    stripe_fake, owner, owner_client, first_page
):
    paused = BookingPage.objects.create(
        owner=owner, title="Paused", slug="paused", durations=[30], active=False
    )

    response = owner_client.post(
        reverse("booking:page_edit", args=[paused.id]), page_form_data(title="Paused")
    )

    assert shows_upgrade_prompt(response, "The Free plan keeps 1 booking page open")
    paused.refresh_from_db()
    assert paused.active is False


# No limits --------------------------------------------------------------------------------------


def _use_more_than_free_allows(owner, owner_client, calendars, feed):
    feed.serve(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-WR-CALNAME:Feed\r\nEND:VCALENDAR\r\n")
    responses = [
        owner_client.post(NEW_RULE, new_rule_data(calendars, name="Second")),
        # The third copies the same pair as the second: confirm the overlap warning.
        owner_client.post(NEW_RULE, new_rule_data(calendars, name="Third", overlap_ok="on")),
        owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Third account"}),
        owner_client.post(
            NEW_PAGE,
            page_form_data(title="Second call", write_calendar=str(calendars["Work"].id)),
        ),
    ]
    assert [response.status_code for response in responses] == [302, 302, 302, 302]
    assert SyncRule.objects.filter(user=owner, enabled=True).count() == 3
    assert Connection.objects.filter(user=owner).count() == 3
    assert BookingPage.objects.filter(owner=owner, active=True).count() == 2


def test_pro_has_no_limits(
    stripe_fake, owner, owner_client, calendars, first_rule, first_page, feed
):
    subscribe(stripe_fake, owner)

    _use_more_than_free_allows(owner, owner_client, calendars, feed)
    assert "Upgrade to Pro" not in owner_client.get(NEW_RULE).content.decode()


def test_a_server_without_stripe_limits_nobody(
    owner, owner_client, calendars, first_rule, first_page, feed
):
    _use_more_than_free_allows(owner, owner_client, calendars, feed)
    assert "Upgrade to Pro" not in owner_client.get(NEW_RULE).content.decode()


def test_other_users_things_do_not_count(stripe_fake, owner, outsider, calendars):
    for _ in range(3):
        SyncRuleFactory(user=outsider)
        ConnectionFactory(user=outsider)

    limit_check(user=owner, limit=Limit.RULES)
    limit_check(user=owner, limit=Limit.BOOKING_PAGES)
    with pytest.raises(PlanLimitReached):
        limit_check(user=owner, limit=Limit.CALENDAR_ACCOUNTS)  # the owner's own two


def test_a_refusal_reads_as_a_sentence_with_the_numbers(stripe_fake):
    refusal = PlanLimitReached(limit=Limit.BOOKING_PAGES, allowed=1, in_use=3)

    assert re.fullmatch(
        r"The Free plan keeps 1 booking page open at a time, and you have 3 open\.", refusal.message
    )


def test_every_limit_is_counted_by_the_app_that_owns_it_and_what_pro_ends_can_come_back():
    from accounts.billing import plans

    for limit in Limit:
        assert plans.limited(limit).count is not None
    for limit in (Limit.RULES, Limit.BOOKING_PAGES):
        assert plans.limited(limit).pause_beyond is not None
        assert plans.limited(limit).resume is not None
    assert plans.limited(Limit.CALENDAR_ACCOUNTS).pause_beyond is None  # nothing is disconnected
