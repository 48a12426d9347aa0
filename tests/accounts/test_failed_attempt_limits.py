"""Ten failed log-ins, sign-ups or password resets per address in 15 minutes; successes are free."""

from __future__ import annotations

import itertools

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


# Counters live in the shared cache for their whole window: each test comes from its own address.
_addresses = (f"198.19.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture(autouse=True)
def a_small_limit(settings):
    settings.FAILED_ATTEMPTS_RATE = "3/15m"


@pytest.fixture
def client():
    return Client(REMOTE_ADDR=next(_addresses))


def test_wrong_passwords_are_refused_after_the_limit_even_with_the_right_one(client, owner):
    login = reverse("accounts:login")
    for _ in range(3):
        assert client.post(login, {"username": owner.email, "password": "wrong"}).status_code == 200

    refused = client.post(login, {"username": owner.email, "password": DEFAULT_PASSWORD})

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60


def test_successful_log_ins_do_not_count(client, owner):
    login = reverse("accounts:login")
    for _ in range(5):
        response = client.post(login, {"username": owner.email, "password": DEFAULT_PASSWORD})
        assert response.status_code == 302
        client.logout()


def test_failed_sign_ups_are_limited(client):
    signup = reverse("accounts:signup")
    for _ in range(3):
        assert client.post(signup, {"email": "not-an-address"}).status_code == 200
    assert client.post(signup, {"email": "not-an-address"}).status_code == 429


def test_guessing_reset_links_is_limited(client, owner):
    for number in range(3):
        client.get(reverse("accounts:password_reset_confirm", args=["MQ", f"bad-token-{number}"]))
    response = client.get(reverse("accounts:password_reset_confirm", args=["MQ", "bad-token-x"]))
    assert response.status_code == 429
