"""Connecting Google and Microsoft 365, and signing up with Google, in a real browser, through the
providers' consent pages.

Google's consent page is the Google fake's own, over plain http on loopback. Microsoft's cannot be:
msal insists on an https authority, which the identity fake answers in-process, so nothing listens
at its host. The browser's requests to that host are intercepted instead and answered with a consent
page whose Allow asks the identity fake for a code, as Microsoft's sign-in service would.
"""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from accounts.models import AuditLog, Consent, User
from calendars.models import Connection
from integrations import scopes
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fakes.google import AUTH_PATH

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/oauth-connected.png"  # noqa: S108 - a fixed path the lead looks at
MICROSOFT_EMAIL = "ada@contoso.example"


class MicrosoftSignIn:
    """Microsoft's consent page, as a Playwright route handler for the authority's host."""

    def __init__(self, identity, user) -> None:
        self.identity, self.user = identity, user
        self.pending: dict[str, str] = {}  # consent id → the authorize URL it answers

    def __call__(self, route: Route) -> None:
        request = route.request
        path = urlsplit(request.url).path
        if request.method == "GET" and path.endswith("/oauth2/v2.0/authorize"):
            consent_id = secrets.token_urlsafe(16)
            self.pending[consent_id] = request.url
            route.fulfill(status=200, content_type="text/html", body=self._page(consent_id))
        elif request.method == "POST" and path == "/common/Consent/Set":
            form = {k: v[0] for k, v in parse_qs(request.post_data or "").items()}
            auth_url = self.pending.pop(form.get("consent", ""))
            query = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
            if form.get("decision") == "allow":
                answer = self.identity.authorize(auth_url, self.user)
            else:
                answer = {
                    "error": "access_denied",
                    "error_description": "AADSTS65004: User declined to consent to access the app.",
                    "state": query["state"],
                }
            location = f"{query['redirect_uri']}?{urlencode(answer)}"
            route.fulfill(status=302, headers={"Location": location})
        else:
            route.fulfill(status=404, content_type="text/plain", body="Not found")

    def _page(self, consent_id: str) -> str:
        wanted = "".join(
            f"<li>{html.escape(scope)}</li>"
            for scope in scopes.names(scopes.MICROSOFT_CALENDAR_CONNECTION)
        )
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Permissions requested</title></head>
<body>
<h1>Permissions requested</h1>
<p>{html.escape(self.user.email)}</p>
<ul>{wanted}</ul>
<form method="post" action="/common/Consent/Set">
<input type="hidden" name="consent" value="{consent_id}">
<button type="submit" name="decision" value="deny">Cancel</button>
<button type="submit" name="decision" value="allow">Accept</button>
</form>
</body></html>"""


@pytest.fixture
def user():
    return UserFactory(email="oauth@example.com")


@pytest.fixture
def signed_in_page(page, user):
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible()
    return page


@pytest.fixture
def google(google_fake):
    google_fake.add_calendar("primary", google_fake.email)
    google_fake.add_calendar("team@group.calendar.google.com", "Team", access_role="reader")
    return google_fake


@pytest.fixture
def microsoft(microsoft_fake, signed_in_page, settings) -> MicrosoftSignIn:
    account = microsoft_fake.identity.add_user(MICROSOFT_EMAIL, "Ada Lovelace")
    microsoft_fake.graph.add_calendar(account, "Calendar", default=True)
    microsoft_fake.graph.add_calendar(account, "Holidays", can_edit=False)
    sign_in = MicrosoftSignIn(microsoft_fake.identity, account)
    host = urlsplit(settings.MICROSOFT_AUTHORITY).netloc
    signed_in_page.route(f"https://{host}/**", sign_in)
    return sign_in


def start_connecting(page: Page, button: str) -> None:
    page.goto("/calendars/")
    page.get_by_role("button", name=button).click()


def expect_calendars_listed(page: Page, live_server, email: str, names: list[str]) -> None:
    expect(page).to_have_url(f"{live_server.url}/calendars/")
    expect(page.get_by_text(f"Connected {email}: {len(names)} calendars.")).to_be_visible()
    connection = page.locator("section.connection", has=page.get_by_role("heading", name=email))
    for name in names:
        expect(connection.locator(".calendar-list__name", has_text=name)).to_be_visible()
    expect(connection.locator(".badge--ok")).to_have_text("Connected")


def test_connect_google_through_its_consent_page_and_see_its_calendars(
    signed_in_page, live_server, google, user
):
    page = signed_in_page

    start_connecting(page, "Connect Google Calendar")

    expect(page).to_have_url(re.compile("^" + re.escape(google.url + AUTH_PATH + "?")))
    expect(page.get_by_text(google.email)).to_be_visible()
    for scope in scopes.names(scopes.GOOGLE_CALENDAR_CONNECTION):
        expect(
            page.get_by_role("listitem").filter(has_text=re.compile(f"^{scope}$"))
        ).to_be_visible()
    page.get_by_role("button", name="Allow").click()

    expect_calendars_listed(page, live_server, google.email, [google.email, "Team"])
    team = page.locator(".calendar-list li", has_text="Team")
    expect(team.locator(".badge--muted")).to_have_text("Read-only")
    connection = Connection.objects.get(user=user)
    assert connection.kind == Connection.Kind.GOOGLE
    assert google.code_redemptions == 1
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_denying_google_shows_the_friendly_page_and_stores_nothing(signed_in_page, google, user):
    page = signed_in_page

    start_connecting(page, "Connect Google Calendar")
    page.get_by_role("button", name="Deny").click()

    expect(page.get_by_role("heading", name="Google Calendar was not connected")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(
        "You did not allow Multical to use your Google Calendar calendars"
    )
    assert google.code_redemptions == 0
    assert not Connection.objects.filter(user=user).exists()
    page.get_by_role("link", name="Back to calendars").click()
    expect(page.get_by_role("heading", name="No calendars connected yet")).to_be_visible()


def test_connect_microsoft_through_its_consent_page_and_see_its_calendars(
    signed_in_page, live_server, microsoft, microsoft_fake, user
):
    page = signed_in_page

    start_connecting(page, "Connect Microsoft 365")

    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    assert urlsplit(page.url).netloc == microsoft_fake.identity.host
    page.get_by_role("button", name="Accept").click()

    expect_calendars_listed(page, live_server, MICROSOFT_EMAIL, ["Calendar", "Holidays"])
    connection = Connection.objects.get(user=user)
    assert connection.kind == Connection.Kind.MICROSOFT
    assert microsoft_fake.identity.grant_count("authorization_code") == 1


def test_denying_microsoft_shows_the_friendly_page_and_stores_nothing(
    signed_in_page, microsoft, microsoft_fake, user
):
    page = signed_in_page

    start_connecting(page, "Connect Microsoft 365")
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "You did not allow Multical to use your Microsoft 365 calendars"
    )
    assert microsoft_fake.identity.grant_count("authorization_code") == 0
    assert not Connection.objects.filter(user=user).exists()


def test_a_new_user_signs_up_with_google_and_lands_where_next_named(page, live_server, google_fake):
    page.goto("/rules/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/rules/")

    page.get_by_role("button", name="Sign in with Google").click()
    expect(page).to_have_url(re.compile("^" + re.escape(google_fake.url + AUTH_PATH + "?")))
    assert "rules" not in page.url
    expect(page.get_by_text(google_fake.email)).to_be_visible()
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_role("heading", name="Finish signing up")).to_be_visible()
    expect(page.get_by_text(google_fake.email, exact=True)).to_be_visible()
    expect(page.get_by_role("textbox")).to_have_count(0)
    expect(page.get_by_label("Send me occasional product news")).not_to_be_checked()
    assert not User.objects.exists()
    page.get_by_role("button", name="Create account").click()  # the Terms not yet accepted
    expect(page.get_by_text("You need to accept the Terms of Service")).to_be_visible()
    assert not User.objects.exists()

    page.get_by_label("I accept the Terms of Service and the Privacy Policy").check()
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(f"{live_server.url}/rules/")
    expect(page.get_by_role("heading", name="Sync rules")).to_be_visible()
    expect(page.locator(".site-header__who")).to_have_text(google_fake.email)
    user = User.objects.get()
    assert user.email == google_fake.email
    assert user.email_verified and not user.has_usable_password()
    assert user.time_zone == "Europe/Berlin"  # the browser's own zone
    kinds = {(c.kind, c.granted) for c in Consent.objects.filter(user=user)}
    assert kinds == {
        (Consent.Kind.TERMS, True),
        (Consent.Kind.PRIVACY, True),
        (Consent.Kind.MARKETING_EMAIL, False),
    }
    assert AuditLog.objects.get(user=user).action == AuditLog.Action.LOGIN
