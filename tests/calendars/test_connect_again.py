"""Connecting an account that is already connected updates that connection, for every provider.

The same CalDAV server and user name, the same Apple ID, the same iCal link, the same Google,
Microsoft or Zoom account: its credentials and calendars are updated (a disconnected one comes
back) instead of a second card, and the user is told so. Another user's connection to the same
account is theirs alone and is never touched.
"""

from __future__ import annotations

import secrets
import threading

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from calendars import services
from calendars.models import Connection
from calendars.selectors import connection_secrets
from integrations.base import RemoteCalendar
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CALENDARS = reverse("calendars:calendar_list")
CONNECT_CALDAV = reverse("calendars:connect_caldav")
CONNECT_ICLOUD = reverse("calendars:connect_icloud")
CONNECT_ICS = reverse("calendars:connect_ics")
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


@pytest.fixture
def account(radicale_server):
    account = radicale_server.new_account()
    radicale_server.create_calendar(account, "Clients")
    radicale_server.create_calendar(account, "Personal")
    return account


def connect_caldav(client: Client, account, **changes: str):
    data = {
        "server_url": account.server_url,
        "username": account.username,
        "password": account.password,
    }
    return client.post(CONNECT_CALDAV, {**data, **changes})


def shown_message(client: Client, response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    return client.get(response["Location"]).content.decode()


def disconnect(client: Client, connection: Connection, run_tasks_inline) -> None:
    with run_tasks_inline():
        client.post(reverse("calendars:connection_disconnect", args=[connection.id]))
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED
    assert connection.secrets == ""


# CalDAV servers -----------------------------------------------------------------------------------


def test_the_same_caldav_account_connected_again_updates_it_instead_of_adding_another(
    owner_client, owner, account
):
    connect_caldav(owner_client, account)
    first = Connection.objects.get(user=owner)
    Connection.objects.filter(id=first.id).update(
        status=Connection.Status.NEEDS_RECONNECT, last_error="The server refused the password."
    )

    page = shown_message(owner_client, connect_caldav(owner_client, account))

    connection = Connection.objects.get(user=owner)
    assert connection.id == first.id
    assert connection.status == Connection.Status.OK
    assert connection.last_error == ""
    assert connection.calendars.count() == 2
    assert f"{connection.label} was already connected: its credentials are updated." in page
    assert page.count('class="card connection"') == 1
    assert list(
        AuditLog.objects.filter(user=owner).order_by("created_at").values_list("action", flat=True)
    ) == [AuditLog.Action.CONNECTION_ADDED, AuditLog.Action.CONNECTION_UPDATED]


def test_the_same_server_written_without_its_trailing_slash_is_the_same_account(
    owner_client, owner, account
):
    connect_caldav(owner_client, account)

    response = connect_caldav(owner_client, account, server_url=account.server_url.rstrip("/"))

    assert response.status_code == 302
    assert Connection.objects.filter(user=owner).count() == 1


def test_another_user_name_on_the_same_server_is_another_account(
    owner_client, owner, account, radicale_server
):
    connect_caldav(owner_client, account)

    connect_caldav(owner_client, radicale_server.new_account())

    assert Connection.objects.filter(user=owner).count() == 2


def test_a_disconnected_caldav_account_connected_again_comes_back(
    owner_client, owner, account, run_tasks_inline
):
    connect_caldav(owner_client, account)
    first = Connection.objects.get(user=owner)
    disconnect(owner_client, first, run_tasks_inline)

    page = shown_message(owner_client, connect_caldav(owner_client, account))

    connection = Connection.objects.get(user=owner)
    assert connection.id == first.id
    assert connection.status == Connection.Status.OK
    assert connection_secrets(connection) == {"password": account.password}
    assert f"{connection.label} is connected again." in page


# Apple iCloud -------------------------------------------------------------------------------------


@pytest.fixture
def apple_id(radicale_server, monkeypatch) -> str:
    """An Apple ID on the suite's Radicale, standing in for iCloud's server."""
    monkeypatch.setattr(services, "ICLOUD_SERVER_URL", radicale_server.url)
    apple_id = f"ada.{secrets.token_hex(4)}@icloud.example"
    radicale_server.add_user(apple_id, APP_PASSWORD)
    return apple_id


def test_the_same_apple_id_connected_again_updates_its_connection(owner_client, owner, apple_id):
    data = {"apple_id": apple_id, "app_password": APP_PASSWORD}
    assert owner_client.post(CONNECT_ICLOUD, data).status_code == 302

    page = shown_message(owner_client, owner_client.post(CONNECT_ICLOUD, data))

    assert Connection.objects.filter(user=owner).count() == 1
    assert f"{apple_id} was already connected: its credentials are updated." in page


class StubProvider:
    """A provider that lists one calendar, after every thread in ``meeting`` has reached it."""

    secrets_changed = False

    def __init__(self, meeting: threading.Barrier | None = None) -> None:
        self._meeting = meeting

    def list_calendars(self) -> list[RemoteCalendar]:
        if self._meeting is not None:
            self._meeting.wait(timeout=20)
        return [RemoteCalendar(remote_id="https://dav.example/calendars/work/", name="Work")]


def test_an_apple_id_typed_in_other_letters_is_the_same_account(owner, monkeypatch):
    monkeypatch.setattr(services, "build_provider", lambda slug, settings: StubProvider())
    connect = {"user": owner, "kind": Connection.Kind.ICLOUD, "server_url": "", "ip_address": None}
    services.connection_connect_caldav(username="ada@icloud.example", password="a", **connect)

    services.connection_connect_caldav(username="Ada@iCloud.example", password="b", **connect)

    connection = Connection.objects.get(user=owner)
    assert connection_secrets(connection) == {"password": "b"}


# iCal links ---------------------------------------------------------------------------------------


def test_the_same_ical_link_connected_again_updates_it_instead_of_adding_another(
    owner_client, owner, feed
):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Team"})

    page = shown_message(
        owner_client, owner_client.post(CONNECT_ICS, {"url": feed.url, "label": ""})
    )

    connection = Connection.objects.get(user=owner)
    assert connection.label == "Team"  # no label given this time: the one it had stays
    assert connection.calendars.count() == 1
    assert "Team was already connected: its credentials are updated." in page


def test_a_disconnected_ical_link_connected_again_comes_back(
    owner_client, owner, feed, run_tasks_inline
):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Team"})
    first = Connection.objects.get(user=owner)
    disconnect(owner_client, first, run_tasks_inline)

    page = shown_message(
        owner_client, owner_client.post(CONNECT_ICS, {"url": feed.url, "label": ""})
    )

    connection = Connection.objects.get(user=owner)
    assert connection.id == first.id
    assert connection.status == Connection.Status.OK
    assert connection_secrets(connection) == {"url": feed.url}
    assert "Team is connected again." in page


def test_a_link_connected_before_links_had_a_fingerprint_is_recognised(owner_client, owner, feed):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Team"})
    Connection.objects.filter(user=owner).update(username="")

    page = shown_message(
        owner_client, owner_client.post(CONNECT_ICS, {"url": feed.url, "label": ""})
    )

    connection = Connection.objects.get(user=owner)
    assert connection.username.startswith("link:")
    assert "Team was already connected: its credentials are updated." in page


def test_another_ical_link_is_another_connection(owner_client, owner, feed):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": ""})

    owner_client.post(CONNECT_ICS, {"url": feed.url + "?calendar=2", "label": ""})

    assert Connection.objects.filter(user=owner).count() == 2


def test_changing_a_link_to_one_already_connected_is_refused_naming_that_connection(
    owner_client, owner, feed
):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Team"})
    owner_client.post(CONNECT_ICS, {"url": feed.url + "?calendar=2", "label": "Other"})
    other = Connection.objects.get(user=owner, label="Other")
    change = reverse("calendars:connection_credentials", args=[other.id])

    response = owner_client.post(change, {"url": feed.url})

    assert response.status_code == 200
    assert "This link is already connected as Team." in response.content.decode()
    other.refresh_from_db()
    assert connection_secrets(other) == {"url": feed.url + "?calendar=2"}
    assert Connection.objects.filter(user=owner).values("username").distinct().count() == 2


def test_what_recognises_an_ical_link_never_shows_the_link(owner_client, owner, feed):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": ""})
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": ""})

    with db_connection.cursor() as cursor:
        cursor.execute("SELECT * FROM calendars_connection")
        rows = repr(cursor.fetchall())
    assert feed.url not in rows
    assert feed.url.split("//", 1)[1] not in rows
    assert Connection.objects.filter(user=owner).count() == 1


# Google, Microsoft 365, Zoom ----------------------------------------------------------------------


def oauth_connect(client: Client, provider: str, authorize) -> str:
    started = client.post(reverse(f"calendars_oauth:{provider}_connect"))
    query = authorize(started["Location"])
    return shown_message(client, client.get(reverse(f"calendars_oauth:{provider}_callback"), query))


def test_the_same_google_account_connected_again_is_updated_and_the_user_told(
    owner_client, owner, google_fake
):
    google_fake.add_calendar("primary", google_fake.email)
    first_page = oauth_connect(owner_client, "google", google_fake.authorize)
    first_token = connection_secrets(Connection.objects.get(user=owner))["refresh_token"]

    page = oauth_connect(owner_client, "google", google_fake.authorize)

    connection = Connection.objects.get(user=owner)
    assert f"Connected {google_fake.email}: 1 calendar." in first_page
    assert f"{google_fake.email} was already connected: its credentials are updated." in page
    assert connection_secrets(connection)["refresh_token"] != first_token
    assert connection.calendars.count() == 1


def test_a_disconnected_google_account_connected_again_comes_back(
    owner_client, owner, google_fake, run_tasks_inline
):
    google_fake.add_calendar("primary", google_fake.email)
    oauth_connect(owner_client, "google", google_fake.authorize)
    first = Connection.objects.get(user=owner)
    disconnect(owner_client, first, run_tasks_inline)

    page = oauth_connect(owner_client, "google", google_fake.authorize)

    connection = Connection.objects.get(user=owner)
    assert connection.id == first.id
    assert connection.status == Connection.Status.OK
    assert f"{google_fake.email} is connected again." in page


def test_the_same_microsoft_account_connected_again_is_updated_and_the_user_told(
    owner_client, owner, microsoft_fake
):
    user = microsoft_fake.identity.add_user("ada@contoso.example", "Ada Lovelace")
    microsoft_fake.graph.add_calendar(user, "Calendar", default=True)

    def authorize(url: str) -> dict[str, str]:
        return microsoft_fake.identity.authorize(url, user)

    oauth_connect(owner_client, "microsoft", authorize)

    page = oauth_connect(owner_client, "microsoft", authorize)

    assert Connection.objects.filter(user=owner).count() == 1
    assert "ada@contoso.example was already connected: its credentials are updated." in page


def test_a_microsoft_account_whose_address_changed_is_known_by_its_account_id(owner, monkeypatch):
    monkeypatch.setattr(services, "build_provider", lambda slug, settings: StubProvider())
    connect = {"user": owner, "kind": Connection.Kind.MICROSOFT, "ip_address": None}
    grant = {"token_cache": "{}", "home_account_id": "uid.tenant"}
    first = services.connection_connect_oauth(
        email="ada_contoso#EXT#@x.example", secrets=grant, **connect
    )

    again = services.connection_connect_oauth(email="ada@contoso.example", secrets=grant, **connect)
    other = {**grant, "home_account_id": "another.tenant"}
    services.connection_connect_oauth(email="grace@contoso.example", secrets=other, **connect)

    assert again.id == first.id
    assert Connection.objects.get(id=first.id).username == "ada@contoso.example"
    assert Connection.objects.filter(user=owner).count() == 2


def test_the_same_zoom_account_connected_again_is_updated_and_the_user_told(
    owner_client, owner, zoom_fake
):
    oauth_connect(owner_client, "zoom", zoom_fake.consent)

    page = oauth_connect(owner_client, "zoom", zoom_fake.consent)

    assert Connection.objects.filter(user=owner).count() == 1
    assert f"Zoom ({zoom_fake.email}) was already connected: its credentials are updated." in page


# Tenant isolation ---------------------------------------------------------------------------------


def test_two_users_connecting_the_same_caldav_account_each_get_their_own(
    owner_client, owner, second_user, account
):
    connect_caldav(owner_client, account)
    owners = Connection.objects.get(user=owner)
    sealed = owners.secrets
    other = Client()
    other.force_login(second_user)

    page = shown_message(other, connect_caldav(other, account))

    theirs = Connection.objects.get(user=second_user)
    assert theirs.id != owners.id
    assert "was already connected" not in page
    owners.refresh_from_db()
    assert owners.secrets == sealed
    assert not AuditLog.objects.filter(
        user=owner, action=AuditLog.Action.CONNECTION_UPDATED
    ).exists()


def test_two_users_connecting_the_same_ical_link_each_get_their_own(
    owner_client, owner, second_user, feed
):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT_ICS, {"url": feed.url, "label": "Mine"})
    other = Client()
    other.force_login(second_user)

    page = shown_message(other, other.post(CONNECT_ICS, {"url": feed.url, "label": "Theirs"}))

    assert "was already connected" not in page
    assert Connection.objects.get(user=owner).label == "Mine"
    assert Connection.objects.get(user=second_user).label == "Theirs"


def test_two_users_connecting_the_same_google_account_each_get_their_own(
    owner_client, owner, second_user, google_fake
):
    google_fake.add_calendar("primary", google_fake.email)
    oauth_connect(owner_client, "google", google_fake.authorize)
    sealed = Connection.objects.get(user=owner).secrets
    other = Client()
    other.force_login(second_user)

    page = oauth_connect(other, "google", google_fake.authorize)

    assert "was already connected" not in page
    assert Connection.objects.get(user=owner).secrets == sealed
    assert Connection.objects.filter(user=second_user).count() == 1


# At the same time ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_form_sent_twice_at_once_makes_one_connection(monkeypatch):
    user = UserFactory(email="twice@example.com")
    meeting = threading.Barrier(2)
    monkeypatch.setattr(services, "build_provider", lambda slug, settings: StubProvider(meeting))
    failures: list[BaseException] = []

    def connect() -> None:
        try:
            services.connection_connect_caldav(
                user=user,
                kind=Connection.Kind.CALDAV,
                server_url="https://dav.example/",
                username="ada",
                password="secret",
                ip_address=None,
            )
        except BaseException as error:  # reported by the test below
            failures.append(error)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=connect) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert Connection.objects.filter(user=user).count() == 1
