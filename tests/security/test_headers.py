"""The security headers are on every response (pages, errors, 429s, JSON, redirects, static
files), whatever a view tried, and HSTS is sent in production even when a request looks insecure.
Only a booking page's embedded flow may be framed, by the sites the page allows
(tests/booking/test_embed.py)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.multical.test_project_checks import PRODUCTION_ENV, run_manage
from tests.security.routes import routes
from tests.security.test_csrf import view_path

pytestmark = pytest.mark.django_db

FIXED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=63072000; includeSubDomains; preload"


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive → sources."""
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(response) -> None:
    for name, value in FIXED.items():
        assert response.get(name) == value, (name, response.get(name))
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"][0] == "'self'"
    assert all(source.startswith("'nonce-") for source in csp["style-src"][1:])
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["font-src"] == ["'self'", "data:"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"][0] == "'self'"
    assert "unsafe" not in response["Content-Security-Policy"]


@pytest.fixture
def production_hsts(settings):
    """Production's HSTS settings, on a request that arrives as plain HTTP (the proxy in front
    terminated TLS and did not say so)."""
    settings.SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 * 2
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    return settings


def test_a_page_carries_every_header(client):
    assert_security_headers(client.get(reverse("landing")))


def test_a_page_for_a_signed_in_user_carries_every_header(owner_client):
    assert_security_headers(owner_client.get(reverse("dashboard")))


def test_a_redirect_carries_every_header(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert_security_headers(response)


def test_a_404_carries_every_header(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert_security_headers(response)


@pytest.mark.urls("tests.security.probe_urls")
def test_a_500_carries_every_header():
    response = Client(raise_request_exception=False).get("/probe/error/")

    assert response.status_code == 500
    assert_security_headers(response)


def test_a_429_carries_every_header(settings, fresh_address):
    settings.RATE_LIMIT_DEFAULT = "1/15m"
    client = Client(REMOTE_ADDR=fresh_address)
    client.get(reverse("landing"))

    response = client.get(reverse("landing"))

    assert response.status_code == 429
    assert_security_headers(response)


def test_a_csrf_failure_carries_every_header(owner):
    response = Client(enforce_csrf_checks=True).post(reverse("accounts:login"), {})

    assert response.status_code == 403
    assert_security_headers(response)


def test_json_carries_every_header(client):
    for response in [client.get(reverse("health")), client.get(reverse("portfolio:events"))]:
        assert response["Content-Type"] == "application/json"
        assert_security_headers(response)


def test_a_static_file_carries_every_header(client):
    response = client.get("/static/css/multical.css")

    assert response.status_code == 200
    assert_security_headers(response)


@pytest.mark.urls("tests.security.probe_urls")
def test_a_view_cannot_loosen_the_headers(client):
    assert_security_headers(client.get("/probe/weak-headers/"))


def test_the_style_nonce_is_the_one_in_the_page_and_new_for_every_response(client):
    nonces = []
    for _ in range(2):
        response = client.get(reverse("landing"))
        meta = re.search(r'<meta name="csp-nonce" content="([^"]+)">', response.content.decode())
        nonce = meta.group(1)
        assert f"'nonce-{nonce}'" in policy(response)["style-src"]
        nonces.append(nonce)

    assert nonces[0] != nonces[1]


def test_forms_may_lead_only_here_and_to_the_providers_consent_pages(client, settings):
    settings.GOOGLE_AUTH_URI = "https://accounts.google.example/o/oauth2/v2/auth"
    settings.MICROSOFT_AUTHORITY = "https://login.microsoft.example/common"
    settings.ZOOM_OAUTH_URL = "https://zoom.example/oauth"

    sources = policy(client.get(reverse("landing")))["form-action"]

    assert sources[0] == "'self'"
    assert {
        "https://accounts.google.example",
        "https://login.microsoft.example",
        "https://zoom.example",
    } <= set(sources)
    named = {getattr(settings, name) for name in settings.FORM_ACTION_URL_SETTINGS}
    assert all(any(url.startswith(origin) for url in named) for origin in sources[1:])


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get(reverse("landing"))


def test_hsts_is_sent_even_when_the_request_looks_insecure(client, production_hsts):
    response = client.get(reverse("landing"), secure=False)

    assert response["Strict-Transport-Security"] == HSTS


def test_the_https_redirect_carries_hsts_and_every_header(client, production_hsts):
    production_hsts.SECURE_SSL_REDIRECT = True

    response = client.get(reverse("landing"))

    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert response["Strict-Transport-Security"] == HSTS
    assert_security_headers(response)


def test_production_settings_give_two_years_of_hsts_with_subdomains_and_preload():
    script = "from multical.middleware import hsts_value; print(hsts_value())"
    result = run_manage("shell", "--verbosity", "0", "-c", script, env=PRODUCTION_ENV)

    assert result.stdout.strip() == HSTS, result.stderr


# The views whose responses may be framed by other sites (multical.lib.framing): the steps of a
# booking page's flow, shown embedded (booking.embed). Nothing else may be marked framable.
# Their addresses serve an organization's team pages too (booking.team_public_views), which are
# never framed: no response of theirs allows it.
FRAMABLE_VIEWS = {
    "booking.team_public_views.page_or_team",
    "booking.team_public_views.book_or_team",
    "booking.team_public_views.booked_or_team",
}


def test_only_the_booking_flow_is_marked_framable():
    framable = {
        view_path(route) for route in routes() if getattr(route.callback, "framable", False)
    }

    assert framable == FRAMABLE_VIEWS


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_every_url_asked_to_be_embedded_stays_unframable_without_a_page_allowing_it(
    owner, signed_in
):
    client = Client()
    if signed_in:
        client.force_login(owner)
    walked = 0
    for route in routes():
        if route.route.startswith("admin/"):
            continue
        response = client.get(route.path() + "?embed=1")
        walked += 1
        assert response.get("X-Frame-Options") == "DENY", route.name
        assert policy(response)["frame-ancestors"] == ["'none'"], route.name

    assert walked >= 100
