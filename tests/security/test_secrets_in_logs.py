"""No secret reaches a log: not from the provider libraries at DEBUG, not in a logged path.

The first half runs real token exchanges (google-auth-oauthlib against the Google fake, msal
against the identity fake) with the installed logging configuration and the root logger at DEBUG,
as ``LOG_LEVEL=DEBUG`` sets it, and reads every record that reaches a handler. The second half
requests secret-bearing URLs through the whole middleware stack so that Django's request logger
reports a 404, a 405 or a 429, and reads what the installed handler wrote.
"""

from __future__ import annotations

import base64
import copy
import io
import logging
import logging.config
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from accounts.tokens import email_verification_token
from booking.models import Booking, BookingPage, Profile
from booking.tokens import manage_path
from integrations.google import oauth as google_oauth
from integrations.microsoft import oauth as microsoft_oauth
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REDIRECT_URI = "http://testserver/calendars/oauth/callback/"


# Provider libraries at DEBUG ---------------------------------------------------------------------


class _Records(logging.Handler):
    """Every record handed to the root logger's handlers, formatted as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def containing(self, secret: str) -> list[str]:
        return [line for line in self.lines if secret in line]


@pytest.fixture
def debug_logs() -> Iterator[_Records]:
    """The installed logging configuration with the root logger at DEBUG (``LOG_LEVEL=DEBUG``)."""
    config = copy.deepcopy(django_settings.LOGGING)
    config["root"]["level"] = "DEBUG"
    logging.config.dictConfig(config)
    records = _Records()
    logging.getLogger().addHandler(records)
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(records)
        logging.config.dictConfig(django_settings.LOGGING)


def _basic(client_id: str, client_secret: str) -> str:
    return base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def _assert_none_logged(records: _Records, secrets: dict[str, str]) -> None:
    assert all(secrets.values()), "a secret the test meant to look for is empty"
    leaked = {name: records.containing(value) for name, value in secrets.items()}
    assert {name: lines for name, lines in leaked.items() if lines} == {}


def test_a_google_token_exchange_at_debug_logs_no_secret(google_fake, debug_logs):
    url, pending = google_oauth.authorization_start(redirect_uri=REDIRECT_URI)
    answer = google_fake.authorize(url)

    grant = google_oauth.authorization_finish(
        pending=pending, query=answer, redirect_uri=REDIRECT_URI
    )

    logging.getLogger("multical.test").debug("the root logger takes DEBUG records")
    assert debug_logs.containing("the root logger takes DEBUG records")
    _assert_none_logged(
        debug_logs,
        {
            "client secret": google_fake.client_secret,
            "basic credentials": _basic(google_fake.client_id, google_fake.client_secret),
            "authorization code": answer["code"],
            "PKCE verifier": pending["code_verifier"],
            "access token": grant.secrets["access_token"],
            "refresh token": grant.secrets["refresh_token"],
        },
    )


def test_an_msal_sign_in_at_debug_logs_no_secret(microsoft_fake, debug_logs):
    user = microsoft_fake.identity.add_user("ada@contoso.example", "Ada Lovelace")
    microsoft_fake.graph.add_calendar(user, "Calendar", default=True)
    url, pending = microsoft_oauth.authorization_start(redirect_uri=REDIRECT_URI)
    answer = microsoft_fake.identity.authorize(url, user)

    grant = microsoft_oauth.authorization_finish(
        pending=pending, query=answer, redirect_uri=REDIRECT_URI
    )

    cache = grant.secrets["token_cache"]
    (access_token,) = re.findall(r"fake-at-[\w-]+", cache)
    (refresh_token,) = re.findall(r"fake-rt-[\w-]+", cache)
    logging.getLogger("multical.test").debug("the root logger takes DEBUG records")
    assert debug_logs.containing("the root logger takes DEBUG records")
    _assert_none_logged(
        debug_logs,
        {
            "client secret": microsoft_fake.identity.client_secret,
            "authorization code": answer["code"],
            "PKCE verifier": pending["code_verifier"],
            "access token": access_token,
            "refresh token": refresh_token,
        },
    )


def test_the_caps_hold_when_log_level_asks_for_less_than_warnings(settings):
    from multical.logging import logging_config

    quiet = logging_config(level="ERROR")["loggers"]
    loud = logging_config(level="DEBUG")["loggers"]

    assert quiet["requests_oauthlib"]["level"] == "ERROR"
    assert loud["requests_oauthlib"]["level"] == "WARNING"
    assert loud["msal"]["level"] == "WARNING"


# Secrets in logged paths -------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """What the installed stderr handler wrote."""

    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def written() -> Iterator[Logged]:
    """The output of the handler LOGGING installs on the root logger, caught in memory."""
    (handler,) = [h for h in logging.getLogger().handlers if h.name == "stderr"]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield Logged(stream)
    finally:
        handler.setStream(previous)


def page_of(owner, *, listed: bool) -> BookingPage:
    Profile.objects.get_or_create(user=owner, defaults={"handle": "ada", "display_name": "Ada"})
    return BookingPage.objects.create(
        owner=owner, title="Intro call", slug="intro", listed=listed, durations=[30]
    )


@pytest.fixture
def booking(owner) -> tuple[Booking, str]:
    """A booking on one of the owner's pages, and its attendee's manage link."""
    page = page_of(owner, listed=True)
    start = (timezone.now() + timedelta(days=7)).replace(microsecond=0)
    made = Booking.objects.create(
        owner=owner,
        page=page,
        title="Intro call",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace",
        attendee_email="grace@example.com",
        location=BookingPage.Location.NONE,
    )
    return made, manage_path(made)


def _token_of(path: str) -> str:
    return path.rstrip("/").split("/")[-1]


def test_a_manage_link_refused_with_405_is_logged_without_its_token(client, written, booking):
    made, path = booking
    token = _token_of(path)

    response = client.put(f"{path}cancel/")

    assert response.status_code == 405
    assert f"/bookings/{made.id}/" in written.text
    assert token not in written.text
    assert "Method Not Allowed" in written.text


def test_a_forged_manage_link_refused_with_404_is_logged_without_it(client, written, booking):
    made, _ = booking
    forged = "f" * 64

    response = client.get(f"/bookings/{made.id}/{forged}/")

    assert response.status_code == 404
    assert f"/bookings/{made.id}/" in written.text
    assert forged not in written.text


def test_a_manage_page_refused_with_429_is_logged_without_its_token(
    settings, client, written, booking, fresh_address
):
    # Whichever budget counts an attendee's page (the address's, the page's, browsing's).
    for name in ("RATE_LIMIT_DEFAULT", "BOOKING_PAGE_RATE", "BOOKING_BROWSE_RATE"):
        setattr(settings, name, "1/15m")
    _, path = booking
    client.defaults["REMOTE_ADDR"] = fresh_address
    client.get(path)

    response = client.get(path)

    assert response.status_code == 429
    assert "Too Many Requests" in written.text
    assert _token_of(path) not in written.text


def test_an_unlisted_pages_secret_is_not_logged(client, written, owner):
    page = page_of(owner, listed=False)
    secret = page.secret
    address = reverse("booking_public:book", kwargs={"handle": "ada", "slug": page.public_slug})

    wrong_method = client.put(address)
    not_found = client.get(address.replace(secret, secret[::-1]))

    assert (wrong_method.status_code, not_found.status_code) == (405, 404)
    assert f"{page.slug}--" in written.text
    assert secret not in written.text
    assert secret[::-1] not in written.text


@pytest.mark.parametrize("name", ["accounts:verify_email", "accounts:password_reset_confirm"])
def test_a_verification_or_reset_link_refused_with_429_is_logged_without_its_token(
    settings, client, written, name, fresh_address
):
    settings.RATE_LIMIT_DEFAULT = "1/15m"
    client.defaults["REMOTE_ADDR"] = fresh_address
    user = UserFactory(email="reset@example.com")
    token = email_verification_token.make_token(user)
    address = reverse(name, kwargs={"uidb64": "MQ", "token": token})
    client.get(address)

    response = client.get(address)

    assert response.status_code == 429
    assert "MQ/" in written.text
    assert token not in written.text


CODE, STATE = "4/0AQSTgQ-one-time-code", "st4te-0f-the-fl0w"


@pytest.mark.parametrize(
    "name", ["calendars_oauth:google_callback", "accounts_oauth:google_sign_in_callback"]
)
def test_an_oauth_callbacks_code_and_state_are_not_logged(owner_client, written, name):
    path = reverse(name)
    query = urlencode({"code": CODE, "state": STATE, "scope": "openid"})
    # Signed out, the callback's address (query and all) travels on in the log-in link's next.
    login = f"/accounts/login/?{urlencode({'next': f'{path}?{query}'})}"

    response = owner_client.post(f"{path}?{query}")
    logging.getLogger("django.server").info('"%s" %s %s', f"GET {path}?{query} HTTP/1.1", 200, 0)
    logging.getLogger("gunicorn.access").info(
        '%(h)s "%(r)s" %(s)s', {"h": "203.0.113.9", "r": f"GET {login} HTTP/1.1", "s": 200}
    )

    assert response.status_code == 405
    assert "one-time-code" not in written.text
    assert STATE not in written.text
    assert "scope=openid" in written.text
    assert written.text.count(path) == 2
    assert written.text.count(quote(path, safe="")) == 1


def test_a_stripe_checkout_session_id_is_not_logged(client, written):
    logging.getLogger("django.server").info(
        '"%s" %s %s', "GET /billing/checkout/done/?session_id=cs_test_a1b2c3 HTTP/1.1", 302, 0
    )

    assert "/billing/checkout/done/?session_id=" in written.text
    assert "cs_test_a1b2c3" not in written.text


def test_every_secret_parameter_of_the_url_configuration_is_redacted():
    """A new URL whose route carries a token, a secret or a uidb64 must be known to the filter."""
    from multical.logging import redact
    from tests.security.routes import routes

    secret = "s3cr3t-t0ken-value"
    walked = 0
    for route in routes():
        if {"token", "uidb64"} & set(route.converters):
            filled = route.path({"token": secret, "uidb64": "MQ"})
        elif route.name.startswith("booking_public:") and "slug" in route.converters:
            filled = route.path({"slug": f"intro--{secret}"})
        else:
            continue
        walked += 1
        assert secret not in redact(filled), route.name

    assert walked >= 7  # manage, cancel, reschedule, verify, reset, and the unlisted page's


def test_redaction_leaves_ordinary_paths_and_queries_alone():
    from multical.logging import redact

    ordinary = "GET /rules/0b8c/edit/?page=2&show=upcoming HTTP/1.1"

    assert redact(ordinary) == ordinary
    assert parse_qs(urlsplit(redact("/x/?state=abc&page=2")).query)["page"] == ["2"]
