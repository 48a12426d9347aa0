"""Connecting CalDAV accounts through the pages, against a real Radicale server."""

import socket

import pytest
from django.db import connection as db_connection
from django.urls import reverse

from accounts.models import AuditLog
from calendars.models import Connection
from calendars.selectors import connection_secrets

pytestmark = pytest.mark.django_db

CONNECT = reverse("calendars:connect-caldav")


@pytest.fixture
def account(radicale_server):
    account = radicale_server.new_account()
    radicale_server.create_calendar(account, "Clients", color="#e03131")
    radicale_server.create_calendar(account, "Personal")
    return account


def connect(client, account, password=None):
    return client.post(
        CONNECT,
        {
            "server_url": account.server_url,
            "username": account.username,
            "password": password or account.password,
        },
    )


def test_connecting_lists_the_accounts_calendars(owner_client, owner, account):
    response = connect(owner_client, account)

    assert response.status_code == 302
    connection = Connection.objects.get(user=owner)
    assert connection.status == Connection.Status.OK
    assert sorted(connection.calendars.values_list("name", "color")) == [
        ("Clients", "#e03131"),
        ("Personal", ""),
    ]
    assert connection.username == account.username
    assert connection_secrets(connection) == {"password": account.password}
    page = owner_client.get(reverse("calendars:calendar_list")).content.decode()
    assert "Clients" in page and "Personal" in page


def test_the_password_is_stored_only_sealed_and_never_audited(owner_client, owner, account):
    connect(owner_client, account)

    with db_connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM calendars_connection")
        (sealed,) = cursor.fetchone()
    assert account.password not in sealed
    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.CONNECTION_ADDED)
    assert account.password not in str(entry.metadata)
    assert entry.metadata["provider"] == "caldav"
    assert entry.ip_address == "127.0.0.1"


def test_a_wrong_password_says_the_server_refused_it(owner_client, account):
    response = connect(owner_client, account, password="not-the-password")

    assert response.status_code == 200
    assert "The server refused the user name or password." in response.content.decode()
    assert not Connection.objects.exists()


def test_an_unreachable_server_is_a_form_error(owner_client, account):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    response = owner_client.post(
        CONNECT,
        {"server_url": f"http://127.0.0.1:{closed_port}/", "username": "x", "password": "y"},
    )
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()
    assert not Connection.objects.exists()


def test_a_web_page_that_is_not_caldav_is_a_form_error(owner_client, feed):
    feed.serve(b"<!doctype html><html><body>Welcome</body></html>")
    response = owner_client.post(
        CONNECT, {"server_url": feed.url, "username": "x", "password": "y"}
    )

    assert response.status_code == 200
    assert "does not look like a CalDAV server" in response.content.decode()
    assert not Connection.objects.exists()


def test_a_server_on_a_private_address_is_refused(owner_client):
    response = owner_client.post(
        CONNECT, {"server_url": "http://10.1.2.3/dav/", "username": "x", "password": "y"}
    )
    assert response.status_code == 200
    assert not Connection.objects.exists()


def test_updating_the_password_reconnects_after_checking_it(
    owner_client, owner, account, radicale_server
):
    connect(owner_client, account)
    connection = Connection.objects.get(user=owner)
    Connection.objects.filter(id=connection.id).update(
        status=Connection.Status.NEEDS_RECONNECT,
        last_error="The server refused the user name or password.",
    )
    url = reverse("calendars:connection-credentials", args=[connection.id])

    refused = owner_client.post(url, {"password": "still-wrong"})
    assert "The server refused the user name or password." in refused.content.decode()

    accepted = owner_client.post(url, {"password": account.password})
    assert accepted.status_code == 302
    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK
    assert connection.last_error == ""
    assert (
        AuditLog.objects.filter(user=owner, action=AuditLog.Action.CONNECTION_UPDATED).count() == 1
    )


def test_a_disconnected_account_reconnects_with_its_password(owner_client, owner, account):
    connect(owner_client, account)
    connection = Connection.objects.get(user=owner)
    owner_client.post(reverse("calendars:connection-disconnect", args=[connection.id]))

    response = owner_client.post(
        reverse("calendars:connection-credentials", args=[connection.id]),
        {"password": account.password},
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK
    assert connection_secrets(connection) == {"password": account.password}
