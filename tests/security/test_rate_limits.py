"""Rate limits: signed-in users per account, anonymous requests per client address, public
booking pages per address and per page, the exempt paths, "sync now", the 429 page and its
Retry-After, and addresses that cannot be forged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page

import multical.settings as project_settings
from booking.models import BookingPage
from multical.views import rate_limited
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, CalendarFactory, UserFactory
from tests.multical.test_project_checks import PRODUCTION_ENV, run_manage
from tests.security.world import EVERY_DAY, Names, make_tenant

pytestmark = pytest.mark.django_db

LANDING = "/"


@pytest.fixture
def three_per_quarter_hour(settings):
    settings.RATE_LIMIT_DEFAULT = "3/15m"
    return settings


def statuses(client: Client, path: str, times: int, method: str = "get", **extra) -> list[int]:
    send = getattr(client, method)
    return [send(path, **extra).status_code for _ in range(times)]


def signed_in(user, address: str) -> Client:
    client = Client(REMOTE_ADDR=address)
    client.force_login(user)
    return client


def test_every_page_a_visitor_asks_for_counts_against_the_default_limit_per_address(
    three_per_quarter_hour, fresh_address
):
    client = Client(REMOTE_ADDR=fresh_address)
    assert statuses(client, LANDING, 2) == [200, 200]
    assert client.get(reverse("accounts:login")).status_code == 200

    refused = client.get(reverse("terms"))

    assert refused.status_code == 429
    assert "Slow down a little" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert Client(REMOTE_ADDR="198.51.100.250").get(LANDING).status_code == 200


def test_the_default_limit_reads_its_setting(settings, fresh_address):
    settings.RATE_LIMIT_DEFAULT = "5/m"
    client = Client(REMOTE_ADDR=fresh_address)

    assert statuses(client, LANDING, 6) == [200] * 5 + [429]
    assert int(client.get(LANDING)["Retry-After"]) <= 60


def test_retry_after_is_exactly_when_the_window_lets_the_client_back(
    three_per_quarter_hour, fresh_address
):
    client = Client(REMOTE_ADDR=fresh_address)
    with time_machine.travel("2030-05-06 08:00:00Z", tick=False) as clock:
        statuses(client, LANDING, 3)
        retry_after = int(client.get(LANDING)["Retry-After"])

        clock.shift(retry_after - 1)
        assert client.get(LANDING).status_code == 429
        clock.shift(1)
        assert client.get(LANDING).status_code == 200


def test_the_429_page_names_the_minutes_to_wait(three_per_quarter_hour, fresh_address):
    client = Client(REMOTE_ADDR=fresh_address)
    statuses(client, LANDING, 3)

    refused = client.get(LANDING)

    minutes = -(-int(refused["Retry-After"]) // 60)
    assert f"Please wait {minutes} minute" in refused.content.decode()


def test_a_limit_that_does_not_say_its_window_asks_for_the_longest(rf):
    response = rate_limited(rf.get("/"), Exception())

    assert response.status_code == 429
    assert response["Retry-After"] == "900"


def test_push_notifications_health_and_static_files_are_never_limited(settings, fresh_address):
    settings.RATE_LIMIT_DEFAULT = "1/15m"
    client = Client(REMOTE_ADDR=fresh_address)

    # Unverified notifications are refused by their own checks (400), never by the limit.
    assert 429 not in statuses(client, "/hooks/google/", 5, method="post")
    assert 429 not in statuses(client, "/hooks/microsoft/", 5, method="post")
    assert 429 not in statuses(client, "/hooks/microsoft/lifecycle/", 5, method="post")
    assert 429 not in statuses(client, "/hooks/zoom/", 5, method="post")
    assert 429 not in statuses(client, "/health/", 5)
    assert statuses(client, "/static/css/multical.css", 5) == [200] * 5
    assert 429 not in statuses(client, "/static/no-such-file.css", 5)
    # None of them used up the address's one request.
    assert client.get(LANDING).status_code == 200
    assert client.get(LANDING).status_code == 429


def test_a_forged_forwarding_header_does_not_buy_a_new_address(
    three_per_quarter_hour, fresh_address
):
    three_per_quarter_hour.TRUSTED_PROXY_HEADER = ""
    client = Client(REMOTE_ADDR=fresh_address)
    codes = [
        client.get(LANDING, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}", HTTP_X_REAL_IP=f"192.0.2.{n}")
        for n in range(4)
    ]

    assert [response.status_code for response in codes] == [200, 200, 200, 429]


def test_behind_the_trusted_proxy_each_client_has_its_own_count(
    three_per_quarter_hour, fresh_address
):
    three_per_quarter_hour.TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    first, second = fresh_address, "198.51.100.251"

    assert statuses(proxy, LANDING, 3, HTTP_X_FORWARDED_FOR=first) == [200] * 3
    assert proxy.get(LANDING, HTTP_X_FORWARDED_FOR=first).status_code == 429
    assert proxy.get(LANDING, HTTP_X_FORWARDED_FOR=second).status_code == 200
    # The client's own entry, left of the proxy's, changes nothing.
    assert proxy.get(LANDING, HTTP_X_FORWARDED_FOR=f"192.0.2.1, {first}").status_code == 429


def test_sync_now_is_limited_per_account_and_viewing_is_not(
    owner, second_user, settings, fresh_address
):
    settings.SYNC_NOW_RATE = "2/15m"
    calendar = CalendarFactory(connection__user=owner)
    client = signed_in(owner, fresh_address)
    url = reverse("syncrules:calendar_detail", args=[calendar.id])

    assert statuses(client, url, 2, method="post") == [302, 302]
    refused = client.post(url)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert statuses(client, url, 3) == [200] * 3
    # Another address does not buy the same account more; a colleague at the same address has
    # a budget of their own.
    assert signed_in(owner, "198.51.100.252").post(url).status_code == 429
    theirs = CalendarFactory(connection__user=second_user)
    colleague = signed_in(second_user, fresh_address)
    their_url = reverse("syncrules:calendar_detail", args=[theirs.id])
    assert colleague.post(their_url).status_code == 302


def test_the_limits_of_the_issue_are_the_defaults():
    names = [
        "RATE_LIMIT_DEFAULT",
        "FAILED_ATTEMPTS_RATE",
        "SYNC_NOW_RATE",
        "DATA_EXPORT_RATE",
        "PORTFOLIO_FETCH_RATE",
    ]
    script = f"from django.conf import settings as s; print(*[getattr(s, n) for n in {names}])"
    # An empty variable is an unset one: the suite's own generous values do not apply.
    unset = dict.fromkeys(names, "")
    result = run_manage("shell", "--verbosity", "0", "-c", script, env={**PRODUCTION_ENV, **unset})

    assert result.stdout.split() == ["100/15m", "10/15m", "20/15m", "20/15m", "20/15m"], (
        result.stderr
    )


def test_the_new_limits_of_the_issue_are_the_defaults():
    names = [
        "RATE_LIMIT_SIGNED_IN",
        "BOOKING_BROWSE_RATE",
        "BOOKING_PAGE_RATE",
        "BOOKING_SUBMIT_RATE",
    ]
    script = f"from django.conf import settings as s; print(*[getattr(s, n) for n in {names}])"
    unset = dict.fromkeys(names, "")
    result = run_manage("shell", "--verbosity", "0", "-c", script, env={**PRODUCTION_ENV, **unset})

    assert result.stdout.split() == ["2000/15m", "3000/15m", "600/15m", "60/15m"], result.stderr


# Signed-in users: counted by account, with a budget nobody reaches by clicking. ------------------


def test_a_signed_in_user_is_counted_by_account_not_by_address(
    owner, second_user, settings, fresh_address
):
    settings.RATE_LIMIT_DEFAULT = "3/15m"
    settings.RATE_LIMIT_SIGNED_IN = "5/15m"
    dashboard = reverse("dashboard")
    client = signed_in(owner, fresh_address)

    assert statuses(client, dashboard, 6) == [200] * 5 + [429]
    # The account's budget is spent wherever it comes from...
    assert signed_in(owner, "198.51.100.253").get(dashboard).status_code == 429
    # ...and neither a colleague behind the same address nor an anonymous visitor shares it.
    assert statuses(signed_in(second_user, fresh_address), dashboard, 5) == [200] * 5
    assert statuses(Client(REMOTE_ADDR=fresh_address), LANDING, 3) == [200] * 3


def test_brisk_clicking_never_meets_the_signed_in_budget(owner, settings, fresh_address):
    # 150 page views in 11 minutes met a 429 when signed-in users shared the anonymous budget.
    settings.RATE_LIMIT_DEFAULT = "100/15m"
    client = signed_in(owner, fresh_address)
    pages = [
        reverse("dashboard"),
        reverse("calendars:calendar_list"),
        reverse("syncrules:rule_list"),
    ]

    answers = [client.get(pages[n % len(pages)]).status_code for n in range(150)]

    assert 429 not in answers


def test_the_429_page_of_a_signed_in_user_leads_back_to_the_dashboard(
    owner, settings, fresh_address
):
    settings.RATE_LIMIT_SIGNED_IN = "1/15m"
    client = signed_in(owner, fresh_address)
    client.get(reverse("calendars:calendar_list"))

    refused = client.get(reverse("calendars:calendar_list"))

    page = refused.content.decode()
    assert refused.status_code == 429
    assert f'href="{reverse("dashboard")}"' in page
    assert "Sign up free" not in page
    assert reverse("accounts:login") not in page
    assert "from your account" in page


def test_the_429_page_of_a_visitor_offers_the_start_page_and_logging_in(
    three_per_quarter_hour, fresh_address
):
    client = Client(REMOTE_ADDR=fresh_address)
    statuses(client, LANDING, 3)

    page = client.get(LANDING).content.decode()

    assert "Sign up free" in page
    assert "from your address" in page


# Public booking pages: an office behind one address books as one, each page has its share. ------


@pytest.fixture
def host(radicale_server):
    user = UserFactory(email="office-host@example.com", time_zone="UTC")
    tenant = make_tenant(radicale_server, user, Names.marked("office"), handle="office-host")
    second = BookingPage.objects.create(
        owner=user,
        title="Second call",
        slug="second",
        listed=True,
        durations=[30],
        time_zone="UTC",
        weekly_hours=EVERY_DAY,
        minimum_notice=0,
        busy_in_all_calendars=False,
    )
    return tenant, second


def page_url(page: BookingPage) -> str:
    return reverse(
        "booking_public:page",
        kwargs={"handle": page.owner.booking_profile.handle, "slug": page.public_slug},
    )


def test_an_office_behind_one_address_can_all_look_for_a_time(host, settings, fresh_address):
    # The production defaults, which the other tests of this suite raise.
    for name in ("BOOKING_BROWSE_RATE", "BOOKING_PAGE_RATE", "BOOKING_SUBMIT_RATE"):
        setattr(settings, name, getattr(project_settings, name))
    settings.RATE_LIMIT_DEFAULT = "100/15m"
    tenant, _ = host
    profile = reverse("booking_public:profile", args=[tenant.profile.handle])
    page = page_url(tenant.page)
    next_month = (datetime.now(UTC).replace(day=1) + timedelta(days=32)).strftime("%Y-%m")

    answers = []
    for _attendee in range(40):
        office = Client(REMOTE_ADDR=fresh_address)
        for path in (profile, page, f"{page}?tz=UTC", f"{page}?tz=UTC&month={next_month}"):
            answers.append(office.get(path).status_code)

    assert len(answers) == 160
    assert set(answers) == {200}


def test_one_address_hammering_one_page_meets_that_pages_budget_only(host, settings, fresh_address):
    settings.BOOKING_PAGE_RATE = "4/15m"
    tenant, second = host
    client = Client(REMOTE_ADDR=fresh_address)

    assert statuses(client, page_url(tenant.page), 5) == [200] * 4 + [429]
    assert client.get(page_url(second)).status_code == 200
    assert Client(REMOTE_ADDR="198.51.100.254").get(page_url(tenant.page)).status_code == 200


def test_the_office_budget_covers_every_public_page_of_one_address(host, settings, fresh_address):
    settings.BOOKING_BROWSE_RATE = "6/15m"
    tenant, second = host
    client = Client(REMOTE_ADDR=fresh_address)

    assert statuses(client, page_url(tenant.page), 3) == [200] * 3
    assert statuses(client, page_url(second), 4) == [200] * 3 + [429]


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("profile", {"handle": "nobody"}),
        ("page", {"handle": "nobody", "slug": "intro"}),
        ("book", {"handle": "nobody", "slug": "intro"}),
        ("booked", {"handle": "nobody", "slug": "intro", "booking_id": uuid.uuid4()}),
        ("manage", {"booking_id": uuid.uuid4(), "token": "forged"}),
        ("cancel", {"booking_id": uuid.uuid4(), "token": "forged"}),
        ("reschedule", {"booking_id": uuid.uuid4(), "token": "forged"}),
    ],
)
def test_no_public_page_escapes_the_per_address_budget(name, kwargs, settings, fresh_address):
    # Public pages no longer count against the anonymous default: each must count against its own.
    settings.RATE_LIMIT_DEFAULT = "1000/15m"
    settings.BOOKING_BROWSE_RATE = "2/15m"
    url = reverse(f"booking_public:{name}", kwargs=kwargs)
    client = Client(REMOTE_ADDR=fresh_address)

    assert statuses(client, url, 3)[2] == 429


def test_submissions_keep_a_limit_of_their_own_per_address(host, settings, fresh_address):
    settings.BOOKING_SUBMIT_RATE = "2/15m"
    tenant, _ = host
    url = reverse(
        "booking_public:cancel", kwargs={"booking_id": tenant.booking.id, "token": tenant.token}
    )
    client = Client(REMOTE_ADDR=fresh_address)

    answers = statuses(client, url, 3, method="post")

    assert answers[2] == 429
    assert 429 not in answers[:2]


def test_the_429_page_of_a_signed_in_user_fits_a_phone_and_a_laptop(in_browser, owner, settings):
    settings.RATE_LIMIT_SIGNED_IN = "4/15m"

    def scenario(page: Page) -> None:
        log_in(page, owner.email, DEFAULT_PASSWORD)
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 800})
            answers = [page.goto(reverse("calendars:calendar_list")).status for _ in range(5)]
            assert answers[-1] == 429
            assert page.get_by_role("link", name="Back to your dashboard").is_visible()
            assert page.get_by_role("link", name="Sign up free").count() == 0
            assert page.evaluate("document.documentElement.scrollWidth") <= width

    in_browser(scenario)
