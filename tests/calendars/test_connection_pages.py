"""Connection pages that need no provider: listing, tenant isolation, disconnect and remove."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from calendars.models import Calendar, Connection
from tests.factories import (
    CONNECTION_PASSWORD,
    DEFAULT_PASSWORD,
    CalendarFactory,
    ConnectionFactory,
)

pytestmark = pytest.mark.django_db

CONNECTION_URLS = [
    "calendars:connection_credentials",
    "calendars:connection_disconnect",
    "calendars:connection_remove",
]


@pytest.fixture
def connection(owner):
    connection = ConnectionFactory(user=owner, label="owner @ dav.example.com")
    CalendarFactory(connection=connection, name="Work", color="#e03131")
    CalendarFactory(connection=connection, name="Holidays", read_only=True)
    return connection


def client_for(user) -> Client:
    client = Client()
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    return client


def test_the_list_shows_each_connection_with_its_calendars_and_state(owner_client, connection):
    Connection.objects.filter(id=connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT,
        last_error="The server refused the user name or password.",
    )
    html = owner_client.get(reverse("calendars:calendar_list")).content.decode()

    assert "owner @ dav.example.com" in html
    assert "Work" in html and "Holidays" in html
    assert "Read-only" in html
    assert "Needs reconnect" in html
    assert "The server refused the user name or password." in html


def test_credentials_are_never_rendered(owner_client, connection):
    for name in ["calendars:calendar_list", *CONNECTION_URLS]:
        url = (
            reverse(name, args=[connection.id])
            if name != "calendars:calendar_list"
            else reverse(name)
        )
        html = owner_client.get(url).content.decode()
        assert CONNECTION_PASSWORD not in html
        assert connection.secrets not in html


def test_another_user_gets_404_on_every_connection_url(connection, outsider):
    client = client_for(outsider)
    for name in CONNECTION_URLS:
        url = reverse(name, args=[connection.id])
        assert client.get(url).status_code == 404, name
        assert (
            client.post(url, {"password": "x", "url": "https://example.com/x.ics"}).status_code
            == 404
        ), name
    assert Connection.objects.filter(id=connection.id, status=Connection.Status.OK).exists()


def test_another_user_does_not_see_the_connection_in_their_list(connection, outsider):
    html = client_for(outsider).get(reverse("calendars:calendar_list")).content.decode()
    assert "owner @ dav.example.com" not in html
    assert "No calendars connected yet" in html


def test_anonymous_visitors_are_sent_to_log_in(client, connection):
    for name in CONNECTION_URLS:
        response = client.get(reverse(name, args=[connection.id]))
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_an_unknown_connection_id_is_a_404(owner_client):
    url = reverse("calendars:connection_remove", args=["8b4f9f62-86f3-4c4c-9f0d-0d7d8e0d9a11"])
    assert owner_client.get(url).status_code == 404


def test_disconnecting_deletes_the_credentials_and_keeps_the_listing(
    owner_client, connection, owner, run_tasks_inline
):
    with run_tasks_inline():
        response = owner_client.post(
            reverse("calendars:connection_disconnect", args=[connection.id])
        )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.secrets == ""
    assert connection.status == Connection.Status.DISCONNECTED
    assert connection.calendars.count() == 2
    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.CONNECTION_DISCONNECTED)
    assert entry.metadata == {"connection": str(connection.id), "provider": "caldav"}
    assert entry.ip_address == "127.0.0.1"


def test_removing_deletes_the_connection_and_its_calendars(
    owner_client, connection, owner, run_tasks_inline
):
    with run_tasks_inline():
        owner_client.post(reverse("calendars:connection_remove", args=[connection.id]))

    assert not Connection.objects.filter(id=connection.id).exists()
    assert not Calendar.objects.filter(connection_id=connection.id).exists()
    assert AuditLog.objects.filter(user=owner, action=AuditLog.Action.CONNECTION_REMOVED).exists()


def test_a_connection_being_removed_says_so_until_it_is_gone(owner_client, connection):
    Connection.objects.filter(id=connection.id).update(status=Connection.Status.REMOVING)
    html = owner_client.get(reverse("calendars:calendar_list")).content.decode()
    assert "Being removed" in html
    assert reverse("calendars:connection_remove", args=[connection.id]) not in html


def test_disconnect_and_remove_ask_first_and_change_nothing_on_get(owner_client, connection):
    for name in ["calendars:connection_disconnect", "calendars:connection_remove"]:
        response = owner_client.get(reverse(name, args=[connection.id]))
        assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK
    assert connection.secrets


def test_the_connect_pages_render(owner_client):
    for name, text in [
        ("calendars:connect_icloud", "app-specific password"),
        ("calendars:connect_caldav", "Server address"),
        ("calendars:connect_ics", "iCal link"),
    ]:
        response = owner_client.get(reverse(name))
        assert response.status_code == 200
        assert text in response.content.decode()


def test_an_apple_id_password_is_refused_before_contacting_apple(owner_client):
    response = owner_client.post(
        reverse("calendars:connect_icloud"),
        {"apple_id": "me@icloud.com", "app_password": "MyAppleIDpassword1"},
    )
    assert response.status_code == 200
    assert "App-specific passwords are 16 letters" in response.content.decode()
    assert not Connection.objects.exists()


def test_an_oauth_account_has_no_password_page(owner_client, owner):
    google = ConnectionFactory(user=owner, kind=Connection.Kind.GOOGLE, label="me@gmail.com")
    url = reverse("calendars:connection_credentials", args=[google.id])

    assert owner_client.get(url).status_code == 404
    assert url not in owner_client.get(reverse("calendars:calendar_list")).content.decode()
