"""CSRF: every URL of the project refuses every state-changing method without the token, signed
in or not, public booking pages included. The only exceptions are the providers' push
notifications, which carry no session and are verified by their secrets instead.

The walk sends POST, PUT, PATCH and DELETE to every URL pattern, a superset of the views that
accept them, so a new mutating view is covered the day it is added.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from booking.models import BookingPage, Profile
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

    assert exempt <= CSRF_EXEMPT, f"Not verified by a provider's secret: {exempt - CSRF_EXEMPT}"
    assert "calendars.webhooks.google.google_notification" in exempt


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "anonymous"])
def test_every_url_refuses_a_state_changing_request_without_the_token(owner, signed_in):
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(owner)
    walked, unprotected = 0, []

    for route in routes():
        if getattr(route.callback, "csrf_exempt", False):
            continue
        path = route.path()
        for method in UNSAFE_METHODS:
            response = getattr(client, method)(path)
            walked += 1
            if not refused_for_csrf(response):
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


def test_a_public_booking_form_sets_the_token_it_needs(owner):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada")
    page = BookingPage.objects.create(
        owner=owner, title="Intro", slug="intro", listed=True, durations=[30]
    )
    attendee = Client(enforce_csrf_checks=True)
    start = format_start(timezone.now() + timedelta(days=2))

    form = attendee.get(f"/book/ada/{page.public_slug}/new/", {"start": start})

    assert form.status_code == 200
    assert "csrftoken" in attendee.cookies
    assert 'name="csrfmiddlewaretoken"' in form.content.decode()
