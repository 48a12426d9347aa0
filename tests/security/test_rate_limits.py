"""Rate limits: every request per client address, the exempt paths, "sync now", the 429 page and
its Retry-After, and addresses that cannot be forged."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from multical.views import rate_limited
from tests.factories import CalendarFactory
from tests.multical.test_project_checks import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.django_db

LANDING = "/"


@pytest.fixture
def three_per_quarter_hour(settings):
    settings.RATE_LIMIT_DEFAULT = "3/15m"
    return settings


def statuses(client: Client, path: str, times: int, method: str = "get", **extra) -> list[int]:
    send = getattr(client, method)
    return [send(path, **extra).status_code for _ in range(times)]


def test_every_page_counts_against_the_default_limit_per_address(
    three_per_quarter_hour, fresh_address
):
    client = Client(REMOTE_ADDR=fresh_address)
    assert statuses(client, LANDING, 2) == [200, 200]
    assert client.get(reverse("accounts:login")).status_code == 200

    refused = client.get(reverse("booking_public:profile", args=["nobody"]))

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


def test_sync_now_is_limited_per_address_and_viewing_is_not(owner, settings, fresh_address):
    settings.SYNC_NOW_RATE = "2/15m"
    calendar = CalendarFactory(connection__user=owner)
    client = Client(REMOTE_ADDR=fresh_address)
    client.force_login(owner)
    url = reverse("syncrules:calendar_detail", args=[calendar.id])

    assert statuses(client, url, 2, method="post") == [302, 302]
    refused = client.post(url)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert statuses(client, url, 3) == [200] * 3


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
