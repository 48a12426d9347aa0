"""The client's address: the peer's unless a trusted proxy header is configured, and then only the
part of that header the proxy itself wrote."""

from __future__ import annotations

import pytest

from multical.lib.rate_limits import client_address
from multical.lib.requests import client_ip
from tests.multical.test_project_checks import PRODUCTION_ENV, run_manage

PROXY = "10.0.0.2"
CLIENT = "203.0.113.9"
SPOOFED = "192.0.2.66"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = 1
    return settings


def test_without_a_trusted_header_forwarding_headers_are_ignored(rf, settings):
    settings.TRUSTED_PROXY_HEADER = ""
    request = rf.get("/", REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_FOR=SPOOFED, HTTP_X_REAL_IP=SPOOFED)

    assert client_ip(request) == CLIENT


def test_behind_a_proxy_the_address_it_appended_counts(rf, behind_proxy):
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)

    assert client_ip(request) == CLIENT


def test_addresses_the_client_wrote_into_x_forwarded_for_are_ignored(rf, behind_proxy):
    # The client sent "X-Forwarded-For: 192.0.2.66"; the proxy appended the address it saw.
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{SPOOFED}, {CLIENT}")

    assert client_ip(request) == CLIENT


def test_two_proxies_are_counted_from_the_right(rf, behind_proxy):
    behind_proxy.TRUSTED_PROXY_COUNT = 2
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{SPOOFED}, {CLIENT}, 10.0.0.1")

    assert client_ip(request) == CLIENT


def test_a_single_address_header_such_as_x_real_ip_can_be_the_trusted_one(rf, settings):
    settings.TRUSTED_PROXY_HEADER = "HTTP_X_REAL_IP"
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_REAL_IP=CLIENT, HTTP_X_FORWARDED_FOR=SPOOFED)

    assert client_ip(request) == CLIENT


@pytest.mark.parametrize("header", [None, "", " , ", "not-an-address", "999.1.1.1"])
def test_a_request_that_did_not_come_through_the_proxy_counts_by_its_peer(rf, behind_proxy, header):
    extra = {} if header is None else {"HTTP_X_FORWARDED_FOR": header}
    request = rf.get("/", REMOTE_ADDR=PROXY, **extra)

    assert client_ip(request) == PROXY


def test_ipv6_clients_are_limited_by_their_64_network(rf):
    one = rf.get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    other = rf.get("/", REMOTE_ADDR="2001:db8:1:2:bbbb::2")
    elsewhere = rf.get("/", REMOTE_ADDR="2001:db8:1:3::1")

    assert client_address(one) == client_address(other) == "2001:db8:1:2::"
    assert client_address(elsewhere) != client_address(one)


def test_the_header_can_be_named_as_it_is_sent():
    script = "from django.conf import settings as s; print(s.TRUSTED_PROXY_HEADER)"
    result = run_manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        script,
        env={**PRODUCTION_ENV, "TRUSTED_PROXY_HEADER": "X-Forwarded-For"},
    )

    assert result.stdout.strip() == "HTTP_X_FORWARDED_FOR", result.stderr
