"""Failed log-ins, sign-ups and password resets: 10 failures per 15 minutes per address; only
failures count, and a refused attempt is a 429 that says when to come back."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client
from django_ratelimit.exceptions import Ratelimited

from multical.lib import failed_attempts
from multical.lib.rate_limits import RETRY_AFTER_ATTRIBUTE
from tests.security.probe_urls import PROBE_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/probe/login/"


@pytest.fixture(autouse=True)
def ten_per_quarter_hour(settings):
    settings.FAILED_ATTEMPTS_RATE = "10/15m"


def fail(rf, address: str, action: str = failed_attempts.LOGIN, times: int = 1) -> None:
    for _ in range(times):
        request = rf.post("/", REMOTE_ADDR=address)
        failed_attempts.check(request, action)
        failed_attempts.record(request, action)


def test_ten_failures_are_allowed_and_the_eleventh_attempt_is_refused(rf, fresh_address):
    fail(rf, fresh_address, times=10)

    request = rf.post("/", REMOTE_ADDR=fresh_address)
    with pytest.raises(Ratelimited):
        failed_attempts.check(request, failed_attempts.LOGIN)
    assert 0 < getattr(request, RETRY_AFTER_ATTRIBUTE) <= 15 * 60


def test_checking_is_not_a_failure(rf, fresh_address):
    for _ in range(50):
        failed_attempts.check(rf.post("/", REMOTE_ADDR=fresh_address), failed_attempts.LOGIN)


def test_each_action_and_each_address_counts_on_its_own(rf, fresh_address):
    fail(rf, fresh_address, times=10)

    failed_attempts.check(rf.post("/", REMOTE_ADDR=fresh_address), failed_attempts.SIGNUP)
    failed_attempts.check(rf.post("/", REMOTE_ADDR=fresh_address), failed_attempts.PASSWORD_RESET)
    failed_attempts.check(rf.post("/", REMOTE_ADDR="198.51.100.200"), failed_attempts.LOGIN)


def test_the_failures_are_forgotten_exactly_when_retry_after_says(rf, fresh_address):
    with time_machine.travel("2030-05-06 08:00:00Z", tick=False) as clock:
        fail(rf, fresh_address, times=10)
        request = rf.post("/", REMOTE_ADDR=fresh_address)
        with pytest.raises(Ratelimited):
            failed_attempts.check(request, failed_attempts.LOGIN)

        retry_after = getattr(request, RETRY_AFTER_ATTRIBUTE)

        clock.shift(retry_after - 1)
        with pytest.raises(Ratelimited):
            failed_attempts.check(rf.post("/", REMOTE_ADDR=fresh_address), failed_attempts.LOGIN)
        clock.shift(1)
        failed_attempts.check(rf.post("/", REMOTE_ADDR=fresh_address), failed_attempts.LOGIN)


@pytest.mark.urls("tests.security.probe_urls")
def test_a_guarded_form_answers_429_with_retry_after_once_the_failures_are_used_up(fresh_address):
    client = Client(REMOTE_ADDR=fresh_address)
    for _ in range(10):
        assert client.post(LOGIN, {"password": "guess"}).status_code == 401

    refused = client.post(LOGIN, {"password": PROBE_PASSWORD})

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert "Slow down a little" in refused.content.decode()


@pytest.mark.urls("tests.security.probe_urls")
def test_successes_do_not_count(fresh_address):
    client = Client(REMOTE_ADDR=fresh_address)
    for _ in range(30):
        assert client.post(LOGIN, {"password": PROBE_PASSWORD}).status_code == 200
    for _ in range(10):
        assert client.post(LOGIN, {"password": "guess"}).status_code == 401

    assert client.post(LOGIN, {"password": "guess"}).status_code == 429
