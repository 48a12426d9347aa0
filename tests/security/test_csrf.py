"""CSRF: every URL of the project refuses every state-changing method without the token, signed
in or not, public booking pages included. The only exceptions are the providers' push
notifications, which carry no session and are verified by their secrets instead, and the booking
form, which must work in another site's frame without cookies: it is protected by its Origin and
a signed form token instead of the cookie (``booking.form_tokens``), and refuses as Django does.

The walk sends POST, PUT, PATCH and DELETE to every URL pattern, a superset of the views that
accept them, so a new mutating view is covered the day it is added.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from booking import form_tokens
from booking.models import Booking, BookingPage, Profile
from booking.public_display import format_start
from tests.factories import DEFAULT_PASSWORD
from tests.security.routes import Route, routes

pytestmark = pytest.mark.django_db

UNSAFE_METHODS = ["post", "put", "patch", "delete"]
CSRF_FAILURE_TEMPLATE = "403_csrf.html"

# The views that accept a state-changing request without a CSRF token. Nothing else may.
CSRF_EXEMPT = {
    # Google push notifications: the channel token (an HMAC of the channel id under the server
    # secret) and the resource id Google gave the channel.
    "calendars.webhooks.google.google_notification",
    # Microsoft Graph change notifications: each subscription's clientState, and the
    # validation handshake.
    "calendars.webhooks.microsoft.graph_notification",
    # Microsoft Graph lifecycle notifications: the same clientState check.
    "calendars.webhooks.microsoft.graph_lifecycle",
    # Stripe's events: the Stripe-Signature header over the raw body, with the webhook secret.
    "accounts.billing.webhooks.stripe_webhook",
    # Zoom's events: x-zm-signature, an HMAC of the timestamp and raw body under the app's
    # secret token.
    "calendars.webhooks.zoom.zoom_notification",
}
# Exempt from the cookie's check, but not from forgery protection: they refuse, with the same
# CSRF failure page, a request from another site (Origin) or without a form token we signed for
# the page (booking.form_tokens). The walk below sends them what it sends everything else. The
# booking form's address serves a person's page (booking.public_views.book) and an organization's
# team page (booking.team_public_views.team_book), both with the form token: one view answers both.
FORM_TOKEN_VIEWS = {"booking.team_public_views.book_or_team"}


def view_path(route: Route) -> str:
    view = getattr(route.callback, "view_class", route.callback)
    return f"{view.__module__}.{view.__qualname__}"


def refused_for_csrf(response) -> bool:
    templates = [template.name for template in response.templates]
    return response.status_code == 403 and CSRF_FAILURE_TEMPLATE in templates


def exempt_routes() -> list[Route]:
    return [route for route in routes() if getattr(route.callback, "csrf_exempt", False)]


def is_api(route: Route) -> bool:
    """The REST API's operations: authenticated only by an API key in the Authorization header,
    which a browser never sends on its own, so a forged request has nothing to ride on."""
    return route.route.startswith("api/v1/")


def test_only_the_providers_notifications_are_exempt_from_csrf():
    exempt = {view_path(route) for route in exempt_routes() if not is_api(route)}

    allowed = CSRF_EXEMPT | FORM_TOKEN_VIEWS
    assert exempt <= allowed, f"Not verified by a provider's secret: {exempt - allowed}"
    assert "calendars.webhooks.google.google_notification" in exempt


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_every_url_refuses_a_state_changing_request_without_the_token(owner, signed_in):
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(owner)
    walked, unprotected = 0, []

    for route in routes():
        exempt = getattr(route.callback, "csrf_exempt", False)
        if exempt and view_path(route) not in FORM_TOKEN_VIEWS:
            continue
        path = route.path()
        for method in UNSAFE_METHODS:
            response = getattr(client, method)(path)
            walked += 1
            # A form-token view refuses the methods it does not take before anything else.
            not_taken = exempt and response.status_code == 405
            if not (refused_for_csrf(response) or not_taken):
                unprotected.append(
                    f"{method.upper()} {path} ({route.name}): {response.status_code}"
                )

    assert unprotected == []
    assert walked >= 4 * 100  # the walk really went through the project's URLs


@pytest.mark.parametrize("method", UNSAFE_METHODS)
def test_a_signed_in_session_changes_nothing_through_the_api(owner, method):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    api_routes = [route for route in routes() if is_api(route)]

    answers = {}
    for route in api_routes:
        response = getattr(client, method)(
            route.path(), data=b"{}", content_type="application/json"
        )
        answers[route.name] = "csrf" if refused_for_csrf(response) else response.status_code

    assert len(api_routes) >= 10
    assert set(answers.values()) <= {401, 404, 405, "csrf"}, answers


def test_an_exempt_endpoint_refuses_what_its_secret_does_not_verify():
    client = Client(enforce_csrf_checks=True)
    for route in exempt_routes():
        response = client.post(route.path(), data=b"{}", content_type="application/json")

        assert 400 <= response.status_code < 500, route.name


def test_the_same_form_with_its_token_goes_through(owner):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("accounts:login"))
    token = client.cookies["csrftoken"].value

    response = client.post(
        reverse("accounts:login"),
        {"username": owner.email, "password": DEFAULT_PASSWORD, "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


@pytest.fixture
def booking_page(owner) -> BookingPage:
    Profile.objects.create(user=owner, handle="ada", display_name="Ada")
    return BookingPage.objects.create(
        owner=owner, title="Intro", slug="intro", listed=True, durations=[30]
    )


def booking_form_data(page: BookingPage, **fields: str) -> dict[str, str]:
    start = format_start(timezone.now() + timedelta(days=2))
    return {
        "start": start,
        "duration": "30",
        "name": "Mallory",
        "email": "mallory@example.com",
        "submission": "forged",
        "form_token": form_tokens.form_token(page),
        **fields,
    }


def test_a_public_booking_form_carries_its_own_token_and_sets_no_cookie(booking_page):
    attendee = Client(enforce_csrf_checks=True)
    start = format_start(timezone.now() + timedelta(days=2))

    form = attendee.get(f"/book/ada/{booking_page.public_slug}/new/", {"start": start})

    assert form.status_code == 200
    assert "csrftoken" not in attendee.cookies
    assert 'name="csrfmiddlewaretoken"' not in form.text
    token = form.text.split('name="form_token" value="')[1].split('"')[0]
    assert form_tokens.read_form_token(token).page_id == str(booking_page.id)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("tampered", id="tampered"),
        pytest.param("another-page", id="another-page"),
        pytest.param("another-purpose", id="another-purpose"),
        pytest.param("expired", id="expired"),
    ],
)
def test_the_booking_form_refuses_a_token_not_signed_for_it_now(booking_page, owner, token):
    data = booking_form_data(booking_page)
    if token is None:
        del data["form_token"]
    elif token == "tampered":
        data["form_token"] = data["form_token"][:-2] + "xx"
    elif token == "another-page":
        other = BookingPage.objects.create(owner=owner, title="Other", slug="other", durations=[30])
        data["form_token"] = form_tokens.form_token(other)
    elif token == "another-purpose":
        data["form_token"] = form_tokens.form_token(booking_page, purpose="cancel")
    elif token == "expired":
        with time_machine.travel(
            timezone.now() - timedelta(seconds=form_tokens.FORM_TOKEN_SECONDS + 5)
        ):
            data["form_token"] = form_tokens.form_token(booking_page)
    else:
        data["form_token"] = token

    response = Client(enforce_csrf_checks=True).post(
        f"/book/ada/{booking_page.public_slug}/new/", data
    )

    assert refused_for_csrf(response)
    assert "This form has expired" in response.text
    assert not Booking.objects.exists()


def test_the_booking_form_refuses_a_post_from_another_site_even_with_a_token(booking_page):
    forged = Client(enforce_csrf_checks=True, headers={"Origin": "https://evil.example"})
    opaque = Client(enforce_csrf_checks=True, headers={"Origin": "null"})

    for client in (forged, opaque):
        response = client.post(
            f"/book/ada/{booking_page.public_slug}/new/", booking_form_data(booking_page)
        )

        assert refused_for_csrf(response)
    assert not Booking.objects.exists()
