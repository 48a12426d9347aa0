"""The public permissions & privacy page: what it lists is what the OAuth flows request.

The scopes each consent screen asks for are read from the authorization URLs the real flows build
(Google's with google-auth-oauthlib, Microsoft's with msal against the identity fake), the way a
browser would be sent to them, and compared with the scopes the page lists for that screen. A scope
added to a flow but not to the page, or left on the page after a flow stopped asking for it, fails.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.hashers import get_hasher
from django.test import Client
from django.urls import reverse

from integrations import scopes as declared_scopes
from integrations.zoom import client as zoom_api
from integrations.zoom import oauth as zoom_oauth
from integrations.zoom.client import ZoomClient, static_token
from multical.lib import vault
from syncrules.models import SyncRule
from tests.factories import DEFAULT_PASSWORD
from tests.security.routes import routes

pytestmark = pytest.mark.django_db

PAGE = "permissions"
MICROSOFT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


class _Listing(HTMLParser):
    """The page's scope tables (``data-flow``) and the scopes in them (``data-scope``), and links."""

    def __init__(self) -> None:
        super().__init__()
        self.flows: dict[str, list[str]] = {}
        self.links: list[str] = []
        self._flow = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and attributes.get("data-flow"):
            self._flow = str(attributes["data-flow"])
            self.flows.setdefault(self._flow, [])
        elif tag == "code" and attributes.get("data-scope") is not None:
            assert self._flow, "a scope outside any consent screen's table"
            self.flows[self._flow].append(str(attributes["data-scope"]))
        elif tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._flow = ""


def page_listing(client: Client) -> _Listing:
    response = client.get(reverse(PAGE))
    assert response.status_code == 200
    listing = _Listing()
    listing.feed(response.content.decode())
    return listing


def scopes_in(url: str) -> list[str]:
    """The scopes an authorization URL asks for, as the provider reads its ``scope`` parameter."""
    return parse_qs(urlsplit(url).query).get("scope", [""])[0].split()


def redirect_of(response) -> str:
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


@pytest.fixture
def google_client(settings):
    settings.GOOGLE_CLIENT_ID = "multical-test.apps.googleusercontent.com"
    settings.GOOGLE_CLIENT_SECRET = "test-secret"


@pytest.fixture
def zoom_client(settings):
    settings.ZOOM_CLIENT_ID = "zoom-test-client"
    settings.ZOOM_CLIENT_SECRET = "zoom-test-secret"


@pytest.fixture
def requested(owner, google_client, zoom_client, microsoft_fake) -> dict[str, list[str]]:
    """Each consent screen's scopes, from the URLs the flows send the browser to."""
    signed_in = Client()
    signed_in.login(email=owner.email, password=DEFAULT_PASSWORD)
    anonymous = Client()
    zoom_url = redirect_of(signed_in.post(reverse("calendars_oauth:zoom_connect")))
    # Zoom takes its scopes from the app's Marketplace settings, not from the request: the list
    # that counts is the one the callback insists on being granted.
    assert "scope" not in parse_qs(urlsplit(zoom_url).query)
    return {
        "google-calendar": scopes_in(
            redirect_of(signed_in.post(reverse("calendars_oauth:google_connect")))
        ),
        "google-sign-in": scopes_in(
            redirect_of(anonymous.post(reverse("accounts_oauth:google_sign_in")))
        ),
        "microsoft-calendar": scopes_in(
            redirect_of(signed_in.post(reverse("calendars_oauth:microsoft_connect")))
        ),
        "microsoft-sign-in": scopes_in(
            redirect_of(anonymous.post(reverse("accounts_oauth:microsoft_sign_in")))
        ),
        "zoom-meetings": list(zoom_oauth.SCOPES),
    }


def test_the_page_lists_exactly_the_scopes_each_consent_screen_asks_for(client, requested):
    listed = page_listing(client).flows

    assert set(listed) == set(requested), "a consent screen missing from the page, or one too many"
    for flow, scopes in requested.items():
        assert scopes, f"{flow}: the flow asked for no scopes at all"
        assert sorted(listed[flow]) == sorted(set(listed[flow])), f"{flow}: listed twice"
        missing = set(scopes) - set(listed[flow])
        extra = set(listed[flow]) - set(scopes)
        assert not missing, f"{flow}: requested but not on the page: {sorted(missing)}"
        assert not extra, f"{flow}: on the page but never requested: {sorted(extra)}"


def test_signing_in_asks_for_no_scope_whose_grant_is_never_used(requested):
    # Signing in reads the id token's address and nothing else: no name, no Graph profile.
    assert "profile" not in requested["google-sign-in"]
    assert "User.Read" not in requested["microsoft-sign-in"]
    # msal adds profile to every request by itself; the page says it is never read.
    assert "profile" in requested["microsoft-sign-in"]


def test_every_listed_scope_says_why(client):
    html = client.get(reverse(PAGE)).content.decode()
    listing = page_listing(client)

    for scopes in listing.flows.values():
        for scope in scopes:
            row = html.split(f'data-scope="{scope}"', 1)[1].split("</tr>", 1)[0]
            reason = row.split("<td>", 1)[1].split("</td>", 1)[0].strip()
            assert len(reason) > 20, f"{scope} has no reason"


def test_the_admin_consent_link_is_for_the_configured_client_and_every_microsoft_scope(
    client, settings
):
    settings.MICROSOFT_CLIENT_ID = MICROSOFT_ID
    listing = page_listing(client)

    (link,) = [href for href in listing.links if "adminconsent" in href]
    parts = urlsplit(link)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert (parts.scheme, parts.netloc) == ("https", "login.microsoftonline.com")
    assert parts.path == "/organizations/v2.0/adminconsent"
    assert query["client_id"] == MICROSOFT_ID
    assert query["redirect_uri"] == settings.SITE_URL + reverse(PAGE)
    on_page = {
        scope
        for flow in ("microsoft-calendar", "microsoft-sign-in")
        for scope in listing.flows[flow]
    }
    asked = {scope.removeprefix("https://graph.microsoft.com/") for scope in query["scope"].split()}
    assert asked == on_page


def test_without_a_microsoft_client_id_the_page_says_so_instead_of_linking(client, settings):
    settings.MICROSOFT_CLIENT_ID = ""
    response = client.get(reverse(PAGE))

    assert "adminconsent" not in response.content.decode()
    assert "not registered with Microsoft" in response.content.decode()


def test_an_administrator_sent_back_by_microsoft_is_told_what_happened(client):
    tenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
    granted = client.get(reverse(PAGE), {"admin_consent": "True", "tenant": tenant})
    refused = client.get(
        reverse(PAGE),
        {"error": "access_denied", "error_description": "<script>alert(1)</script>"},
    )
    forged = client.get(reverse(PAGE), {"admin_consent": "True", "tenant": "<b>evil</b>"})

    assert f"approved Multical for the organisation (tenant) {tenant}" in granted.content.decode()
    assert "access_denied" in refused.content.decode()
    assert "<script>alert(1)" not in refused.content.decode()
    assert "&lt;script&gt;" in refused.content.decode()
    assert "evil" not in forged.content.decode()


def test_the_page_is_public_and_has_no_inline_script_or_style(client):
    response = client.get(reverse(PAGE))
    html = response.content.decode()

    assert response.status_code == 200
    assert "<style" not in html
    assert " style=" not in html
    for script in html.split("<script")[1:]:
        assert " src=" in script.split(">", 1)[0], "an inline script"


def test_the_numbers_on_the_page_come_from_the_code(client, settings):
    settings.SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 * 2
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.FAILED_ATTEMPTS_RATE = "7/15m"
    settings.BOOKING_SUBMIT_RATE = "9/m"
    settings.MICROSOFT_SUBSCRIPTION_MINUTES = 4230
    hasher = get_hasher()
    html = client.get(reverse(PAGE)).content.decode()

    assert f"AES-{vault.KEY_LENGTH * 8}-GCM" in html
    assert f"{vault.NONCE_LENGTH * 8}-bit nonce" in html
    assert f"N = 2^{vault.KDF_N.bit_length() - 1}, r = {vault.KDF_R}" in html
    assert "Argon2id</strong>: 19 MiB" in html
    assert f"({hasher.memory_cost} KiB), {hasher.time_cost} iterations" in html
    assert f"parallelism {hasher.parallelism}" in html
    assert "for 730 days (HSTS, subdomains included" in html
    assert "7 per 15 minutes" in html
    assert "9 per minute" in html
    assert "asked for 4,230 minutes (70.5 hours) at a time" in html
    assert "looked for every hour" in html
    assert "Disconnected an account" in html  # the audit log's actions


def test_without_hsts_the_page_does_not_claim_it(client, settings):
    settings.SECURE_HSTS_SECONDS = 0
    html = client.get(reverse(PAGE)).content.decode()

    assert "does not send HSTS" in html


def test_the_page_says_how_to_revoke_access_at_each_provider(client):
    links = page_listing(client).links

    for address in (
        "https://myaccount.google.com/permissions",
        "https://myapplications.microsoft.com/",
        "https://account.live.com/consent/Manage",
        "https://account.apple.com/",
    ):
        assert address in links


# What the page promises administrators beyond the scopes ---------------------------------------


def page_text(client: Client) -> str:
    """The page's words: tags removed, runs of white space made one space."""
    html = client.get(reverse(PAGE)).content.decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def test_the_page_says_what_zoom_receives_and_the_client_sends_nothing_more(
    client, owner, zoom_fake
):
    text = page_text(client)
    client_for = ZoomClient(static_token(zoom_fake.grant()["access_token"]))

    client_for.create_meeting(
        topic="Intro call with Grace Hopper",
        start=datetime(2030, 5, 6, 9, tzinfo=UTC),
        duration_minutes=30,
        time_zone="Europe/Paris",
    )

    (sent,) = [r.body for r in zoom_fake.requests if r.method == "POST"]
    assert set(sent) == {"topic", "type", "start_time", "duration", "timezone", "settings"}
    assert sent["settings"] == {"auto_recording": "none", "join_before_host": False}
    assert "the booking page's title and the attendee's name" in text
    assert "never their e-mail address" in text
    assert "its start, its length and its time zone" in text
    assert "cloud recording is off" in text
    assert "nobody can join before the host" in text


def test_the_zoom_facts_on_the_page_follow_the_meeting_settings_the_client_sends(
    client, monkeypatch
):
    monkeypatch.setitem(zoom_api.MEETING_SETTINGS, "auto_recording", "cloud")
    monkeypatch.setitem(zoom_api.MEETING_SETTINGS, "join_before_host", True)

    text = page_text(client)

    assert "cloud recording is off" not in text
    assert "nobody can join before the host" not in text


def test_the_zoom_scopes_the_documentation_listed_but_the_code_does_not_use_are_explained(
    client,
):
    text = page_text(client)
    documented = {
        "meeting:write:meeting",
        "meeting:update:meeting",
        "meeting:delete:meeting",
        "meeting:write:invite_links",
        "user:read:user",
        "user:read:email",
    }

    requested = set(declared_scopes.names(declared_scopes.ZOOM_CONNECTION))
    explained = {scope.name for scope in declared_scopes.ZOOM_NOT_REQUESTED}
    assert documented - requested <= explained
    assert not explained & requested
    for scope in declared_scopes.ZOOM_NOT_REQUESTED:
        assert f"{scope.name}: {scope.reason}" in text


def test_the_page_names_the_privacy_controls_every_sync_rule_has(client):
    text = page_text(client)

    for _, label in SyncRule.Visibility.choices:
        assert f"“{label}”" in text
    for _, label in SyncRule.ShowAs.choices:
        assert f"“{label}”" in text
    assert "the event's location and its video link are copied only when you turn them on" in text
    assert "keywords in an event's title or description" in text


def test_the_page_says_mail_files_and_contacts_are_never_reached_and_no_scope_reaches_them(
    client,
):
    text = page_text(client)
    declared = [
        scope.name
        for flows in declared_scopes.PROVIDER_SCOPES.values()
        for flow in flows.values()
        for scope in flow
    ]

    assert "never reads your e-mail, your files or your contacts" in text
    reaching = re.compile(r"(^|/)(mail|gmail|files|drive|contacts|people)(\.|/|$)", re.IGNORECASE)
    assert [name for name in declared if reaching.search(name)] == []


def test_the_page_says_the_unified_view_is_private_and_it_has_no_public_address(client):
    text = page_text(client)

    assert "no share link" in text
    portfolio = [route for route in routes() if route.namespace == "portfolio"]
    assert portfolio
    for route in portfolio:
        response = client.get(route.path())
        # Pages send a visitor to log in; the event feed answers 401.
        assert response.status_code in (302, 401), route.name
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("accounts:login"))
    assert [route.route for route in routes() if "share" in route.route] == []


@pytest.mark.parametrize(
    ("contact", "link"),
    [
        ("privacy@calendars.example", "mailto:privacy@calendars.example"),
        ("https://calendars.example/contact", "https://calendars.example/contact"),
    ],
)
def test_the_page_names_whom_to_contact(client, settings, contact, link):
    settings.OPERATOR_NAME = "Example Calendars Ltd"
    settings.OPERATOR_CONTACT = contact

    text = page_text(client)

    assert "Example Calendars Ltd" in text
    assert link in page_listing(client).links
