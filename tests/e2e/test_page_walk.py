"""Every page of the product in a real browser, at a phone's width (390x844) and a laptop's
(1280x800): owner pages as a signed-in user with data, public booking pages as an attendee,
legal, sign-in and error pages. Each page must not scroll sideways, must not cut text off, and must
have no axe-core violation of impact "serious" or "critical" (WCAG 2.2 AA contrast included).

The walk covers the URL resolver by itself: a named route that is neither walked (``STOPS``) nor
said not to be a page (``NOT_PAGES``, with the reason) fails ``test_every_route_is_walked_or_…``,
and so does an error template (``templates/4xx.html``, ``5xx.html``) the walk does not show.

axe-core is vendored in ``tests/e2e/vendor/axe-core`` (see its README) and evaluated through the
DevTools protocol (``page.evaluate``), which the pages' Content-Security-Policy does not govern:
``add_script_tag`` inserts an inline ``<script>``, which ``script-src 'self'`` refuses, and
``bypass_csp`` would test the pages under a policy they are not served with.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.test import RequestFactory
from django.urls import resolve, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.module_loading import import_string
from django.views import defaults
from playwright.sync_api import Page, expect

from accounts import two_factor
from accounts.oauth_views import SIGN_UP_SESSION_KEY
from booking.models import Booking, BookingPage
from console.sso_views import SIGN_UP_KEY as SSO_SIGN_UP_KEY
from multical.lib.vault import context_for, seal
from orgs.models import SsoIdentity, SsoProvider
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.security.routes import routes
from tests.security.world import Names, Tenant, make_tenant
from tests.syncrules.world import soon

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The stylesheet has a dark scheme too: its colours are measured at a phone's width.
VIEWPORTS = [
    pytest.param((390, 844, "light"), id="390x844"),
    pytest.param((1280, 800, "light"), id="1280x800"),
    pytest.param((390, 844, "dark"), id="390x844-dark"),
]
FAILING_IMPACTS = ("serious", "critical")

# Named routes that are no page of their own, and why. A new route goes in STOPS or here.
NOT_PAGES: dict[str, str] = {
    "health": "JSON health check for the container",
    "metrics": "Prometheus text for the operator's scraper, behind a token",
    "accounts:logout": "POST only: logs out and redirects",
    "accounts:verify_resend": "POST only: re-sends the e-mail, back to verify_sent (walked)",
    "accounts:notification_preferences": "POST only: a form on accounts:settings (walked)",
    "accounts:login_two_factor_cancel": "POST only: forgets the half-done sign-in, to log-in",
    "accounts:two_factor_start": "POST only: makes a secret, then two_factor_setup (walked)",
    "calendars:calendar_list_status": "JSON polled by the calendar list",
    "accounts_oauth:google_sign_in": "POST only: redirects to Google's consent screen",
    "accounts_oauth:microsoft_sign_in": "POST only: redirects to Microsoft's consent screen",
    "accounts_oauth:sign_up_cancel": "POST only: forgets the identity, back to log-in (walked)",
    "lifecycle:export": "POST only: a JSON download",
    "billing:checkout": "POST only: redirects to Stripe Checkout",
    "billing:portal": "POST only: redirects to Stripe's billing portal",
    "billing:resume": "POST only: back to accounts:settings (walked)",
    "billing:done": "Stripe's return: reads the subscription at Stripe, then the same redirect "
    "and message box as billing:cancelled (walked)",
    "calendars_oauth:google_connect": "POST only: redirects to Google's consent screen",
    "calendars_oauth:microsoft_connect": "POST only: redirects to Microsoft's consent screen",
    "calendars_oauth:zoom_connect": "POST only: redirects to Zoom's consent screen",
    "syncrules:rule_list_status": "JSON polled by the rule list",
    "syncrules:rule_status": "JSON polled by the rule page",
    "syncrules:calendar_status": "JSON polled by the calendar page",
    "syncrules:rule_set_enabled": "POST only: a switch on the rule pages, redirects back",
    "booking:page_create_preview": "POST only: the new page form's live preview (form walked)",
    "booking:page_edit_preview": "POST only: the page form's live preview (form walked)",
    "portfolio:events": "JSON read by the portfolio",
    "portfolio:event": "JSON read by the portfolio",
    "portfolio:event_create": "POST only, JSON",
    "portfolio:event_update": "POST only, JSON",
    "portfolio:event_move": "POST only, JSON",
    "portfolio:event_remove": "POST only, JSON",
    "portfolio:event_reply": "POST only, JSON",
    "portfolio:calendar_preference": "POST only: a form in the portfolio, redirects back",
    "webhooks:subscription_pause": "POST only: a button on webhooks:subscription_detail (walked)",
    "webhooks:subscription_resume": "POST only: a button on webhooks:subscription_detail (walked)",
    "webhooks:subscription_test": "POST only: a button on webhooks:subscription_detail (walked)",
    "api_keys:revoke": "POST only: a button on api_keys:list (walked)",
    "console:invitation_revoke": "POST only: a button on console:organization (walked)",
    "console:member_remove": "POST only: a button on console:member (walked)",
    "console:domain_check": "POST only: a button on console:domain (walked)",
    "console:domain_capture": "POST only: a form on console:domain (walked)",
    "console:billing_checkout": "POST only: redirects to Stripe Checkout from console:billing",
    "console:billing_portal": "POST only: redirects to Stripe's portal from console:billing",
    "console:sso_identity_remove": "POST only: a button on console:sso_identities_mine (walked)",
    "api_unknown": "the REST API's answer to an address it does not have: a JSON problem",
    "booking_public:picture": "the host's picture, an image shown on the public pages (walked)",
    "booking_public:calendar_file": "an .ics download linked from the confirmation (walked)",
    "google_notification": "provider webhook",
    "microsoft_notification": "provider webhook",
    "microsoft_lifecycle": "provider webhook",
    "zoom_notification": "provider webhook",
    "stripe_webhook": "provider webhook",
}
# Django's admin is for the operator's staff, not a page of the product.
NOT_PAGES_NAMESPACES = {
    "admin": "Django's admin, for the operator's staff",
    "api": "the REST API: JSON for programs (its reference, api_docs, is walked)",
}


@dataclass
class Walk:
    """What the walk visits: the owner's objects, and how to reach the pages that need more."""

    owner: Any
    tenant: Tenant
    # A meeting that took place: only such a booking (or a cancelled one) can be deleted.
    past_booking: Booking
    live_url: str
    # Given when the walk turns two-factor sign-in on; each sign-in with a code uses one.
    recovery_codes: list[str] = field(default_factory=list)

    def reverse(self, name: str, **kwargs: object) -> str:
        return reverse(name, kwargs=kwargs or None)

    @property
    def public_page(self) -> str:
        return self.reverse(
            "booking_public:page",
            handle=self.tenant.profile.handle,
            slug=self.tenant.page.public_slug,
        )

    @property
    def attendee_link(self) -> dict[str, object]:
        return {"booking_id": self.tenant.booking.id, "token": self.tenant.token}


@dataclass(frozen=True)
class Stop:
    """One page of the walk: ``route`` is the URL's name (or, for an error page no route names,
    its template), ``go`` brings the browser there, ``ready`` is what to wait for after."""

    route: str
    go: Callable[[Page, Walk], Any]
    note: str = ""
    ready: str | None = None
    # The route the browser is on after ``go``, when not ``route`` itself.
    lands: str | None = None

    @property
    def label(self) -> str:
        return f"{self.route} ({self.note})" if self.note else self.route


def to(name: str, **fill: Callable[[Walk], object] | str) -> Callable[[Page, Walk], Any]:
    """Go to the route ``name``, each keyword filled from the walk's data (or as given)."""

    def go(page: Page, walk: Walk) -> Any:
        kwargs = {key: value(walk) if callable(value) else value for key, value in fill.items()}
        return page.goto(walk.reverse(name, **kwargs))

    return go


def to_path(path: str | Callable[[Walk], str]) -> Callable[[Page, Walk], Any]:
    return lambda page, walk: page.goto(path(walk) if callable(path) else path)


def _handle(walk: Walk) -> str:
    return walk.tenant.profile.handle


def _reset_confirm(page: Page, walk: Walk) -> Any:
    uid = urlsafe_base64_encode(force_bytes(walk.owner.pk))
    token = default_token_generator.make_token(walk.owner)
    return page.goto(walk.reverse("accounts:password_reset_confirm", uidb64=uid, token=token))


def _oauth_sign_up(page: Page, walk: Walk) -> Any:
    """The step after a provider vouched for an address nobody has an account with."""
    store = import_string(settings.SESSION_ENGINE).SessionStore()
    store[SIGN_UP_SESSION_KEY] = {
        "provider": "google",
        "email": "new.person@example.com",
        "next": "/dashboard/",
        "held_at": datetime.now(UTC).timestamp(),
    }
    store.create()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": walk.live_url}]
    )
    page.goto(walk.reverse("accounts_oauth:sign_up"))
    expect(page.locator("main")).to_contain_text("new.person@example.com")


def _sso_identity_unlink(page: Page, walk: Walk) -> Any:
    """The confirmation of unlinking a person from the organization's single sign-on (the
    settings page then lists them too)."""
    identity, _made = SsoIdentity.objects.get_or_create(
        organization=walk.tenant.organization,
        user=walk.owner,
        issuer="https://login.example.com/tenant/v2.0",
        subject="walk-owner-subject",
    )
    page.goto(
        walk.reverse(
            "console:sso_identity_unlink",
            organization_id=walk.tenant.organization.id,
            identity_id=identity.public_id,
        )
    )
    expect(page.locator("main")).to_contain_text(walk.owner.email)


def _sso_sign_up(page: Page, walk: Walk) -> Any:
    """The step after the organization's issuer vouched for an address nobody has an account
    with: the organization signs in with an issuer, and the session holds the person."""
    organization = walk.tenant.organization
    if not SsoProvider.objects.filter(organization=organization).exists():
        provider = SsoProvider(
            organization=organization,
            issuer="https://login.example.com/tenant/v2.0",
            client_id="walk",
            enabled=True,
        )
        provider.client_secret = seal("walk", context=context_for(provider, "client_secret"))
        provider.save()
    store = import_string(settings.SESSION_ENGINE).SessionStore()
    store[SSO_SIGN_UP_KEY] = {
        "organization": str(organization.id),
        "issuer": "https://login.example.com/tenant/v2.0",
        "sub": "walk-subject",
        "email": "new.colleague@example.com",
        "next": "",
        "started_at": datetime.now(UTC).timestamp(),
    }
    store.create()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": walk.live_url}]
    )
    page.goto(walk.reverse("console:sso_sign_up"))
    expect(page.locator("main")).to_contain_text("new.colleague@example.com")


def _public_page(page: Page, walk: Walk) -> Any:
    page.goto(walk.public_page)
    # The first visit reads the browser's zone and reloads with it.
    expect(page).to_have_url(re.compile(r"tz="))


def _public_page_day_chosen(page: Page, walk: Walk) -> Any:
    _public_page(page, walk)
    page.locator("a.booking-picker__day:not(.is-chosen)").first.click()
    expect(page).to_have_url(re.compile(r"day="))


def _book_form(page: Page, walk: Walk) -> Any:
    _public_page(page, walk)
    page.locator(".booking-picker__times a").first.click()
    expect(page).to_have_url(re.compile(r"/new/"))


def _booked(page: Page, walk: Walk) -> Any:
    _book_form(page, walk)
    page.get_by_label("Your name").fill("Grace Guest-Hopper")
    page.get_by_label("E-mail address").fill("grace.guest@example.com")
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/booked/"))


def _team_handle(walk: Walk) -> str:
    return walk.tenant.org_handle.handle


def _team_page(page: Page, walk: Walk) -> Any:
    page.goto(walk.reverse("booking_public:page", handle=_team_handle(walk), slug="team"))
    # The first visit reads the browser's zone and reloads with it.
    expect(page).to_have_url(re.compile(r"tz="))


def _team_book_form(page: Page, walk: Walk) -> Any:
    _team_page(page, walk)
    page.locator(".booking-picker__times a").first.click()
    expect(page).to_have_url(re.compile(r"/new/"))


def _team_booked(page: Page, walk: Walk) -> Any:
    _team_book_form(page, walk)
    page.get_by_label("Your name").fill("Grace Guest-Hopper")
    page.get_by_label("E-mail address").fill("grace.guest@example.com")
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/booked/"))


def _embedded_team_page(page: Page, walk: Walk) -> Any:
    """A team page as another site's frame shows it, visited on its own here."""
    page.goto(
        walk.reverse("booking_public:page", handle=_team_handle(walk), slug="team") + "?embed=1"
    )
    expect(page).to_have_url(re.compile(r"embed=1.*tz=|tz=.*embed=1"))


def _embedded_team_book_form(page: Page, walk: Walk) -> Any:
    _embedded_team_page(page, walk)
    page.locator(".booking-picker__times a").first.click()
    expect(page).to_have_url(re.compile(r"/new/.*embed=1"))


def _embedded_team_booked(page: Page, walk: Walk) -> Any:
    _embedded_team_book_form(page, walk)
    page.get_by_label("Your name").fill("Ada Byron King")
    page.get_by_label("E-mail address").fill("ada.byron.king@example.com")
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/booked/.*receipt="))


def _embedded_page(page: Page, walk: Walk) -> Any:
    """The page as another site's frame shows it (booking.embed), visited on its own here."""
    page.goto(walk.public_page + "?embed=1")
    expect(page).to_have_url(re.compile(r"embed=1.*tz=|tz=.*embed=1"))


def _embedded_book_form(page: Page, walk: Walk) -> Any:
    _embedded_page(page, walk)
    page.locator(".booking-picker__times a").first.click()
    expect(page).to_have_url(re.compile(r"/new/.*embed=1"))


def _embedded_booked(page: Page, walk: Walk) -> Any:
    _embedded_book_form(page, walk)
    page.get_by_label("Your name").fill("Ada Byron King")
    page.get_by_label("E-mail address").fill("ada.byron.king@example.com")
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/booked/.*receipt="))


def _csrf_refused(page: Page, walk: Walk) -> Any:
    """A form sent after its CSRF cookie went: Django's CSRF failure view (403_csrf.html)."""
    page.goto(walk.reverse("accounts:password_reset"))
    page.context.clear_cookies()
    page.get_by_label("E-mail address").fill("someone@example.com")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".error-page__code")).to_have_text("403")


def _rendered(handler: Callable[..., Any], *args: object) -> Callable[[Page, Walk], Any]:
    """An error page no request of the walk can cause on demand (a crash, a refused permission,
    a malformed request): the response of Django's own handler, which renders the template,
    served to the browser at an address of the live server."""

    def go(page: Page, walk: Walk) -> Any:
        request = RequestFactory().get("/")
        response = handler(request, *args)
        url = f"{walk.live_url}/walk-rendered/{response.status_code}/"
        page.route(
            url,
            lambda route: route.fulfill(
                status=response.status_code,
                content_type="text/html; charset=utf-8",
                body=response.content,
            ),
        )
        page.goto(url)
        page.unroute(url)

    return go


def _rate_limited(page: Page, walk: Walk) -> Any:
    previous = settings.RATE_LIMIT_DEFAULT
    settings.RATE_LIMIT_DEFAULT = "1/h"
    try:
        page.goto(walk.reverse("terms"))
        response = page.goto(walk.reverse("terms"))
        assert response is not None and response.status == 429
    finally:
        settings.RATE_LIMIT_DEFAULT = previous


def _rule_preview(page: Page, walk: Walk) -> Any:
    """The rule form's preview, drawn in the form's page."""
    page.goto(walk.reverse("syncrules:rule_edit", rule_id=walk.tenant.rule.id))
    page.locator("button[data-preview]").click()
    expect(page.locator("#rule-preview")).not_to_have_class(re.compile("rule-preview--empty"))


def _sign_in(page: Page, walk: Walk) -> Any:
    log_in(page, walk.owner.email, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard/"))


def _two_factor_setup(page: Page, walk: Walk) -> Any:
    """The authenticator being set up (the POST of two_factor_start makes its secret)."""
    two_factor.setup_begin(user=walk.owner)
    return page.goto(walk.reverse("accounts:two_factor_setup"))


def _two_factor_code(page: Page, walk: Walk) -> Any:
    """Two-factor sign-in turned on (which ends the browser's session), then a log-in: the step
    that asks for the code."""
    device = two_factor.pending_setup(user=walk.owner)
    assert device is not None
    secret = two_factor.setup_details(device)[0].replace(" ", "")
    walk.recovery_codes = (
        two_factor.enable(device=device, code=pyotp.TOTP(secret).now(), ip_address=None) or []
    )
    assert walk.recovery_codes
    page.context.clear_cookies()
    log_in(page, walk.owner.email, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(walk.reverse("accounts:login_two_factor")))


def _signed_in_with_a_code(name: str) -> Callable[[Page, Walk], Any]:
    def go(page: Page, walk: Walk) -> Any:
        if walk.reverse("accounts:login_two_factor") in page.url:
            page.locator("main input[name=code]").fill(walk.recovery_codes.pop())
            page.locator("main form button[type=submit]").first.click()
            expect(page).to_have_url(re.compile(r"/dashboard/"))
        return page.goto(walk.reverse(name))

    return go


def _checkout_cancelled(page: Page, walk: Walk) -> Any:
    page.goto(walk.reverse("billing:cancelled"))
    expect(page).to_have_url(re.compile(walk.reverse("accounts:settings") + "$"))


_rule = {"rule_id": lambda walk: walk.tenant.rule.id}
_page = {"page_id": lambda walk: walk.tenant.page.id}
_booking = {"booking_id": lambda walk: walk.tenant.booking.id}


def _past_booking(walk: Walk) -> object:
    return walk.past_booking.id


_connection = {"connection_id": lambda walk: walk.tenant.connection.id}
_webhook = {"subscription_id": lambda walk: walk.tenant.webhook.id}


def _webhook_added(page: Page, walk: Walk) -> Any:
    """The answer to adding a webhook: its signing secret, shown this once. Fields found by name,
    so the German walk takes the same step."""
    page.goto(walk.reverse("webhooks:subscription_create"))
    page.locator("main input[name=url]").fill("http://127.0.0.1:9/hooks/multical")
    page.locator("main input[name=events][value='booking.created']").check()
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main code")).to_contain_text("whsec_")


def _api_key_made(page: Page, walk: Walk) -> Any:
    """The answer to making an API key: the key, shown this once."""
    page.goto(walk.reverse("api_keys:list"))
    # By the fields' names: the German walk takes the same steps.
    page.locator("input[name=name]").fill("Office dashboard")
    page.locator("input[name=scopes][value='bookings:read']").check()
    page.locator("form[action$='/api-keys/new/'] button[type=submit]").click()
    expect(page.locator("main code").first).to_contain_text("mck_")


_calendar = {"calendar_id": lambda walk: walk.tenant.calendar.id}
_org = {"organization_id": lambda walk: walk.tenant.organization.id}
_member = {**_org, "user_id": lambda walk: walk.owner.id}
_invitation = {"token": lambda walk: walk.tenant.invitation_token}
_domain = {**_org, "domain_id": lambda walk: walk.tenant.domain.id}
_team = {**_org, "page_id": lambda walk: walk.tenant.team_page.id}
_link = {"booking_id": lambda walk: walk.tenant.booking.id, "token": lambda walk: walk.tenant.token}

# In order: as an anonymous visitor and attendee, then signed in as the owner (``_sign_in``).
ANONYMOUS_STOPS = [
    Stop("landing", to("landing")),
    Stop("terms", to("terms")),
    Stop("privacy", to("privacy")),
    Stop("permissions", to("permissions")),
    Stop("api_docs", to("api_docs")),
    Stop("accounts:login", to("accounts:login")),
    Stop("accounts:signup", to("accounts:signup")),
    Stop("accounts:password_reset", to("accounts:password_reset")),
    Stop("accounts:password_reset_done", to("accounts:password_reset_done")),
    Stop("accounts:password_reset_confirm", _reset_confirm, "a valid link"),
    Stop(
        "accounts:password_reset_confirm",
        to("accounts:password_reset_confirm", uidb64="MQ", token="set-password"),
        "a used link",
    ),
    Stop("accounts:verify_sent", to("accounts:verify_sent")),
    Stop(
        "accounts:email_change_confirm",
        to("accounts:email_change_confirm", token="not-a-token"),
        "bad link",
    ),
    Stop(
        "accounts:verify_email", to("accounts:verify_email", uidb64="MQ", token="x-y"), "bad link"
    ),
    Stop("accounts_oauth:google_sign_in_callback", to("accounts_oauth:google_sign_in_callback")),
    Stop(
        "accounts_oauth:microsoft_sign_in_callback",
        to("accounts_oauth:microsoft_sign_in_callback"),
    ),
    Stop("accounts_oauth:sign_up", _oauth_sign_up),
    Stop("console:sso_sign_in", to("console:sso_sign_in")),
    Stop("console:sso_callback", to("console:sso_callback"), "no sign-in started"),
    Stop("console:sso_sign_up", _sso_sign_up),
    Stop("booking_public:profile", to("booking_public:profile", handle=_handle)),
    Stop("booking_public:page", _public_page),
    Stop("booking_public:page", _public_page_day_chosen, "a day chosen"),
    Stop("booking_public:book", _book_form),
    Stop("booking_public:booked", _booked),
    Stop("booking_public:page", _embedded_page, "embedded"),
    Stop("booking_public:book", _embedded_book_form, "embedded"),
    Stop("booking_public:booked", _embedded_booked, "embedded"),
    Stop(
        "booking_public:profile",
        to("booking_public:profile", handle=_team_handle),
        "an organization's team pages",
    ),
    Stop("booking_public:page", _team_page, "a team page"),
    Stop("booking_public:book", _team_book_form, "a team page"),
    Stop("booking_public:booked", _team_booked, "a team page"),
    Stop("booking_public:page", _embedded_team_page, "a team page, embedded"),
    Stop("booking_public:book", _embedded_team_book_form, "a team page, embedded"),
    Stop("booking_public:booked", _embedded_team_booked, "a team page, embedded"),
    Stop("booking_public:manage", to("booking_public:manage", **_link)),
    Stop("booking_public:cancel", to("booking_public:cancel", **_link)),
    Stop("booking_public:reschedule", to("booking_public:reschedule", **_link)),
    Stop("404.html", to_path("/no-such-page/")),
    Stop("403_csrf.html", _csrf_refused),
    Stop("400.html", _rendered(defaults.bad_request, Exception())),
    Stop("403.html", _rendered(defaults.permission_denied, Exception())),
    Stop("500.html", _rendered(defaults.server_error)),
    Stop("429.html", _rate_limited),
]
OWNER_STOPS = [
    Stop("dashboard", _sign_in),
    Stop("calendars:calendar_list", to("calendars:calendar_list")),
    Stop("calendars:connect_icloud", to("calendars:connect_icloud")),
    Stop("calendars:connect_caldav", to("calendars:connect_caldav")),
    Stop("calendars:connect_ics", to("calendars:connect_ics")),
    Stop("calendars:connection_credentials", to("calendars:connection_credentials", **_connection)),
    Stop("calendars:connection_disconnect", to("calendars:connection_disconnect", **_connection)),
    Stop("calendars:connection_remove", to("calendars:connection_remove", **_connection)),
    Stop("calendars_oauth:google_callback", to("calendars_oauth:google_callback"), "no state"),
    Stop("calendars_oauth:microsoft_callback", to("calendars_oauth:microsoft_callback")),
    Stop("calendars_oauth:zoom_callback", to("calendars_oauth:zoom_callback")),
    Stop("syncrules:rule_list", to("syncrules:rule_list")),
    Stop("syncrules:rule_create", to("syncrules:rule_create")),
    Stop("syncrules:block_each_other", to("syncrules:block_each_other")),
    Stop("syncrules:calendar_detail", to("syncrules:calendar_detail", **_calendar)),
    Stop("syncrules:rule_detail", to("syncrules:rule_detail", **_rule)),
    Stop("syncrules:rule_edit", to("syncrules:rule_edit", **_rule)),
    Stop("syncrules:rule_preview", _rule_preview, "in the rule form", lands="syncrules:rule_edit"),
    Stop("syncrules:rule_delete", to("syncrules:rule_delete", **_rule)),
    Stop("booking:page_list", to("booking:page_list")),
    Stop("booking:profile_edit", to("booking:profile_edit")),
    Stop("booking:page_create", to("booking:page_create")),
    Stop("booking:page_edit", to("booking:page_edit", **_page)),
    Stop("booking:page_preview", to("booking:page_preview", **_page)),
    Stop("booking:page_delete", to("booking:page_delete", **_page)),
    Stop("booking:booking_list", to("booking:booking_list")),
    Stop("booking:booking_detail", to("booking:booking_detail", **_booking)),
    Stop("booking:booking_cancel", to("booking:booking_cancel", **_booking)),
    Stop("booking:booking_reschedule", to("booking:booking_reschedule", **_booking)),
    Stop("booking:booking_delete", to("booking:booking_delete", booking_id=_past_booking)),
    Stop("portfolio:portfolio", to("portfolio:portfolio"), ready=".fc-event, .fc-list-event"),
    Stop("accounts:settings", to("accounts:settings")),
    Stop("billing:cancelled", _checkout_cancelled, "its message", lands="accounts:settings"),
    Stop("accounts:security", to("accounts:security")),
    Stop("accounts:password_change", to("accounts:password_change")),
    Stop("lifecycle:delete", to("lifecycle:delete")),
    Stop("accounts:email_change", to("accounts:email_change")),
    Stop("api_keys:list", to("api_keys:list")),
    Stop("api_keys:create", _api_key_made, "the key, shown once"),
    Stop("webhooks:subscription_list", to("webhooks:subscription_list")),
    Stop("webhooks:subscription_create", to("webhooks:subscription_create")),
    Stop("webhooks:subscription_create", _webhook_added, "its secret, shown once"),
    Stop("webhooks:subscription_detail", to("webhooks:subscription_detail", **_webhook)),
    Stop("webhooks:delivery_log", to("webhooks:delivery_log", **_webhook)),
    Stop("webhooks:subscription_rotate", to("webhooks:subscription_rotate", **_webhook)),
    Stop("webhooks:subscription_delete", to("webhooks:subscription_delete", **_webhook)),
    Stop("console:organization_list", to("console:organization_list")),
    Stop("console:organization_create", to("console:organization_create")),
    Stop("console:organization", to("console:organization", **_org)),
    Stop("console:invitation_create", to("console:invitation_create", **_org)),
    Stop("console:member", to("console:member", **_member)),
    Stop("console:organization_settings", to("console:organization_settings", **_org)),
    Stop("console:organization_delete", to("console:organization_delete", **_org)),
    Stop("console:event_log", to("console:event_log", **_org)),
    Stop("console:policies", to("console:policies", **_org)),
    Stop("console:leave", to("console:leave", **_org)),
    Stop("console:invitation_accept", to("console:invitation_accept", **_invitation)),
    Stop("console:domain_list", to("console:domain_list", **_org)),
    Stop("console:domain", to("console:domain", **_domain)),
    Stop("console:domain_remove", to("console:domain_remove", **_domain)),
    Stop("console:team_pages", to("console:team_pages", **_org)),
    Stop("console:team_page_create", to("console:team_page_create", **_org)),
    Stop("console:team_page_edit", to("console:team_page_edit", **_team)),
    Stop("console:team_page_delete", to("console:team_page_delete", **_team)),
    Stop("console:team_page_mine", to("console:team_page_mine", **_team)),
    Stop("console:team_page_embed", to("console:team_page_embed", **_team)),
    Stop("console:admin_microsoft_consent", to("console:admin_microsoft_consent", **_org)),
    Stop("console:sso_identity_unlink", _sso_identity_unlink),
    Stop("console:sso_identities_mine", to("console:sso_identities_mine")),
    Stop("console:sso_settings", to("console:sso_settings", **_org)),
    Stop("console:billing", to("console:billing", **_org)),
    Stop(
        "console:admin_microsoft_consent",
        to_path(
            lambda walk: (
                walk.reverse(
                    "console:admin_microsoft_consent", organization_id=walk.tenant.organization.id
                )
                + "?tenant=contoso-consulting-international.onmicrosoft.com"
            )
        ),
        "a tenant's link",
    ),
    # Last: turning two-factor sign-in on ends the session, and the walk signs in with a code.
    Stop("accounts:two_factor_setup", _two_factor_setup),
    Stop("accounts:login_two_factor", _two_factor_code),
    Stop("accounts:two_factor_disable", _signed_in_with_a_code("accounts:two_factor_disable")),
    Stop(
        "accounts:two_factor_recovery_codes",
        _signed_in_with_a_code("accounts:two_factor_recovery_codes"),
    ),
]
STOPS = ANONYMOUS_STOPS + OWNER_STOPS

# Nothing sticks out of the viewport, and no box scrolls on its own (its hidden part cued by a
# scrollbar alone, which phones do not even show). Returns what is wrong, each culprit named by
# its tag, classes and text: the outermost elements, or text, past the right edge; each box that
# scrolls, but for form fields and the portfolio's time grid (FullCalendar's scrollers: the day's
# hours scroll by design, the view around them fits).
OVERFLOW = """() => {
  const width = window.innerWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.classList.length ? "." + [...el.classList].join(".") : "")
    + ` "${(el.innerText || el.value || "").trim().replace(/\\s+/g, " ").slice(0, 40)}"`;
  const found = [];
  const scrollWidth = document.scrollingElement.scrollWidth;
  if (scrollWidth > width) {
    const wide = new Set([...document.body.querySelectorAll("*")].filter((el) => {
      const box = el.getBoundingClientRect();
      return box.width > 0 && box.right > width + 1 && el.checkVisibility();
    }));
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(text);
      if ([...range.getClientRects()].some((r) => r.width > 0 && r.right > width + 1)) {
        wide.add(text.parentElement);
      }
    }
    const outermost = [...wide].filter((el) => !wide.has(el.parentElement));
    found.push(`page is ${scrollWidth} px wide in ${width}`, ...outermost.slice(0, 8).map(name));
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (el.matches("textarea, select, .fc-scroller, .fc-scroller *")) continue;
    const style = getComputedStyle(el);
    const scrolls = (overflow) => ["auto", "scroll"].includes(overflow);
    const sideways = scrolls(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    const down = scrolls(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
    if ((sideways || down) && el.checkVisibility()) {
      found.push(`${name(el)} scrolls ${sideways ? "sideways" : "up and down"} in a box of its own`);
    }
  }
  return found;
}"""

# Text cut off by a box that hides what overflows it. The rule: an element whose overflow-x is
# hidden or clip, whose content is wider than its box, and which has a line of its own text or
# its descendants' text drawn (partly) outside its padding box. Not counted: a box with
# text-overflow: ellipsis (a deliberate cut, with its visible cue "…"), text of a descendant
# whose own box ends the text with an ellipsis, boxes of at most 1 px or with a clip (the
# visually-hidden pattern for screen-reader text), and anything not rendered.
CLIPPED = """() => {
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.classList.length ? "." + [...el.classList].join(".") : "");
  const found = [];
  for (const box of document.body.querySelectorAll("*")) {
    const style = getComputedStyle(box);
    if (!["hidden", "clip"].includes(style.overflowX)) continue;
    if (box.scrollWidth <= box.clientWidth + 1) continue;
    if (style.textOverflow === "ellipsis") continue;
    const rect = box.getBoundingClientRect();
    if (rect.width <= 1 || rect.height <= 1 || style.clip !== "auto") continue;
    if (!box.checkVisibility({visibilityProperty: true})) continue;
    const left = rect.left + box.clientLeft, right = left + box.clientWidth;
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      if (!text.textContent.trim()) continue;
      const parent = text.parentElement;
      if (!parent.checkVisibility({visibilityProperty: true})) continue;
      if (getComputedStyle(parent).textOverflow === "ellipsis" && parent !== box) continue;
      const range = document.createRange();
      range.selectNodeContents(text);
      const cut = [...range.getClientRects()].some(
        (r) => r.width > 0 && (r.right > right + 1 || r.left < left - 1));
      if (cut) {
        found.push(`${name(box)} cuts "${text.textContent.trim().slice(0, 40)}"`);
        break;
      }
    }
  }
  return found;
}"""

AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.flatMap((rule) => rule.nodes.map((node) => ({
    id: rule.id, impact: node.impact || rule.impact, help: rule.help,
    target: node.target.join(" "), summary: (node.failureSummary || "").split("\\n").slice(1, 2).join(""),
  })));
}"""


@functools.cache
def axe_source() -> str:
    return AXE.read_text()


def arrival(page: Page, stop: Stop) -> list[str]:
    """Whether the browser shows the page the stop is for: its route, and no error page but the
    one an error stop is for (a 404 would otherwise pass for a walked page)."""
    code = page.locator(".error-page__code")
    shown = code.inner_text() if code.count() else ""
    if stop.route.endswith(".html"):
        expected = stop.route.removesuffix(".html").removesuffix("_csrf")
        return [] if shown == expected else [f"{stop.label}: shows error page {shown!r}"]
    landed = resolve(urlsplit(page.url).path).view_name
    problems = [f"{stop.label}: error page {shown}"] if shown else []
    if landed != (stop.lands or stop.route):
        problems.append(f"{stop.label}: landed on {landed}")
    return problems


def problems_on(page: Page, label: str) -> list[str]:
    """What is wrong with the page the browser shows: overflow, clipped text, axe violations."""
    found = [f"{label}: overflow: {item}" for item in page.evaluate(OVERFLOW)]
    found += [f"{label}: clipped text: {item}" for item in page.evaluate(CLIPPED)]
    page.evaluate(axe_source())
    for violation in page.evaluate(AXE_RUN):
        if violation["impact"] in FAILING_IMPACTS:
            found.append(
                f"{label}: axe {violation['id']} ({violation['impact']}) at {violation['target']}"
                f" — {violation['help']}. {violation['summary']}".rstrip()
            )
    return found


@pytest.fixture
def walk(radicale_server, live_server, settings) -> Walk:
    return make_walk(radicale_server, live_server, settings)


def make_walk(radicale_server, live_server, settings) -> Walk:
    """The owner, with a CalDAV connection (two calendars), a rule, a booking profile and page
    with a question, a booking, and events on this week's calendar; names as long as real ones."""
    settings.SITE_URL = live_server.url
    # Every provider set up, so that the pages show their buttons and the OAuth error pages.
    for provider in ("GOOGLE", "MICROSOFT", "ZOOM"):
        setattr(settings, f"{provider}_CLIENT_ID", f"walk-{provider.lower()}-client")
        setattr(settings, f"{provider}_CLIENT_SECRET", f"walk-{provider.lower()}-secret")
    owner = UserFactory(email="ada.lovelace.consulting@example.com", time_zone="Europe/Berlin")
    names = Names(
        connection="Ada Lovelace Consulting (Fastmail)",
        calendar="Analytical Engine Company — client work",
        rule="Client work blocks my family calendar",
        host="Ada Lovelace",
        page="Introductory call about your analytical engine",
        question="What would you like to talk about?",
        attendee="Charles Babbage",
        answer="The difference engine, and what comes next.",
        cancel_reason="",
        organization="Analytical Engine Company",
    )
    tenant = make_tenant(radicale_server, owner, names, handle="ada-lovelace")
    for day, title in [(0, "Design review"), (1, "Board call"), (2, "Quarterly planning")]:
        tenant.world.put("work", f"walk-{day}", soon(days=day, hour=10), title=title)
    tenant.world.sync("work")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=6)
    past = Booking.objects.create(
        owner=owner,
        page=tenant.page,
        title=tenant.page.title,
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Mary Somerville",
        attendee_email="mary.somerville@example.com",
        answers=[],
        location=BookingPage.Location.NONE,
        submission_key="past",
        notified_sequence=0,
    )
    return Walk(owner=owner, tenant=tenant, past_booking=past, live_url=live_server.url)


def test_every_route_is_walked_or_said_not_to_be_a_page():
    named = {
        route.name
        for route in routes()
        if route.namespace not in NOT_PAGES_NAMESPACES and not route.name.startswith("admin/")
    }
    walked = {stop.route for stop in STOPS if not stop.route.endswith(".html")}
    both = sorted(walked & set(NOT_PAGES))
    unknown = sorted(named - walked - set(NOT_PAGES))
    gone = sorted((walked | set(NOT_PAGES)) - named)

    assert both == [], f"Walked and said not to be a page: {both}"
    assert unknown == [], f"Walk these pages (STOPS), or say in NOT_PAGES why not: {unknown}"
    assert gone == [], f"These routes no longer exist: {gone}"


def test_every_error_template_is_walked():
    templates = {path.name for path in TEMPLATES.glob("[45][0-9][0-9]*.html")}
    walked = {stop.route for stop in STOPS if stop.route.endswith(".html")}

    assert templates - walked == set()


def walk_through(
    context: Any,
    walk: Walk,
    stops: list[Stop],
    also: Callable[[Page, Stop], list[str]] | None = None,
) -> list[str]:
    """Every stop in a new page of ``context`` (closed after): what it arrives at, the problems
    on it, and what ``also`` finds there."""
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    try:
        for stop in stops:
            stop.go(page, walk)
            page.wait_for_load_state("load")
            if stop.ready:
                page.locator(stop.ready).first.wait_for()
            problems += arrival(page, stop) + problems_on(page, stop.label)
            if also is not None:
                problems += also(page, stop)
    finally:
        context.close()
    return problems


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_page_fits_the_screen_cuts_no_text_and_passes_axe(browser, walk, viewport):
    width, height, scheme = viewport
    context = browser.new_context(
        base_url=walk.live_url,
        viewport={"width": width, "height": height},
        color_scheme=scheme,
        timezone_id="Europe/Berlin",
        locale="en-GB",
    )
    problems = walk_through(context, walk, STOPS)

    assert problems == [], f"{len(problems)} problems at {width} px ({scheme}):\n" + "\n".join(
        problems
    )


# The focus, where keyboard users can see it: the focused element (or, for an input drawn by its
# label, the label) has an outline at least 2 px wide with 3:1 contrast against what is behind it
# (WCAG 2.2 1.4.11 and 2.4.7), or a box-shadow it does not have unfocused. What is behind: the
# background colour of the nearest ancestor that has one (the page's white canvas by default).
REMEMBER_UNFOCUSED = """() => {
  window.walkUnfocused = new Map(
    [...document.querySelectorAll("*")].map((el) => [el, getComputedStyle(el).boxShadow]));
}"""
FOCUS = """() => {
  let el = document.activeElement;
  if (!el || el === document.body) return null;
  // A date or time field that is active but not :focus has the focus on its calendar button, a
  // part the browser draws itself, with its own focus ring, which no style of the page reads.
  if (el.matches("input[type=date], input[type=time]") && !el.matches(":focus")) {
    return {name: `${el.name}'s calendar button`, tag: "input", visible: true, outline: ""};
  }
  const style0 = getComputedStyle(el);
  const rect0 = el.getBoundingClientRect();
  if ((style0.opacity === "0" || rect0.width <= 1) && el.labels && el.labels.length) el = el.labels[0];
  const rgb = (color) => (color.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => v / 255).map((v) => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  let behind = [255, 255, 255];
  for (let box = el.parentElement; box; box = box.parentElement) {
    const color = rgb(getComputedStyle(box).backgroundColor);
    if (color.length === 3 || (color.length === 4 && color[3] > 0)) { behind = color.slice(0, 3); break; }
  }
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
    && contrast(rgb(style.outlineColor).slice(0, 3), behind) >= 3;
  const shadow = style.boxShadow !== "none" && style.boxShadow !== window.walkUnfocused.get(el);
  const name = el.tagName.toLowerCase() + (el.type ? `[type=${el.type}]` : "")
    + ` "${(el.innerText || el.value || el.getAttribute("aria-label") || el.name || "").trim().slice(0, 30)}"`;
  return {name, tag: el.tagName.toLowerCase(), visible: outline || shadow,
    outline: `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor} on rgb(${behind})`};
}"""
FOCUS_PAGES = [
    Stop("landing", to("landing")),
    Stop("accounts:login", to("accounts:login")),
    Stop("booking_public:page", _public_page_day_chosen, "a day chosen"),
    Stop("booking_public:book", _book_form),
    Stop("dashboard", _sign_in),
    Stop("syncrules:rule_create", to("syncrules:rule_create")),
    Stop("booking:page_edit", to("booking:page_edit", **_page)),
    Stop("accounts:settings", to("accounts:settings")),
]
TABS_PER_PAGE = 40


def test_the_keyboard_focus_is_visible_on_links_buttons_and_fields(browser, walk):
    context = browser.new_context(
        base_url=walk.live_url, viewport={"width": 1280, "height": 800}, locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    unseen: list[str] = []
    kinds: set[str] = set()
    try:
        for stop in FOCUS_PAGES:
            stop.go(page, walk)
            page.wait_for_load_state("load")
            page.evaluate(REMEMBER_UNFOCUSED)
            page.locator("body").focus()
            for _ in range(TABS_PER_PAGE):
                page.keyboard.press("Tab")
                focused = page.evaluate(FOCUS)
                if focused is None:
                    break
                kinds.add(focused["tag"])
                if not focused["visible"]:
                    unseen.append(f"{stop.label}: {focused['name']}: {focused['outline']}")
    finally:
        context.close()

    assert {"a", "button", "input", "select", "textarea"} <= kinds
    assert unseen == [], "No visible focus:\n" + "\n".join(unseen)
