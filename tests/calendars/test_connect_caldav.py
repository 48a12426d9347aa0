"""Connecting CalDAV accounts through the pages, against a real Radicale server."""

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.db import connection as db_connection
from django.urls import reverse

from accounts.models import AuditLog
from calendars.models import Connection
from calendars.selectors import connection_secrets

pytestmark = pytest.mark.django_db

CONNECT = reverse("calendars:connect_caldav")


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
    url = reverse("calendars:connection_credentials", args=[connection.id])

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
    owner_client.post(reverse("calendars:connection_disconnect", args=[connection.id]))

    response = owner_client.post(
        reverse("calendars:connection_credentials", args=[connection.id]),
        {"password": account.password},
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == Connection.Status.OK
    assert connection_secrets(connection) == {"password": account.password}


@pytest.mark.parametrize("port", ["65616", "65536", "99999", "0", "-1", "http"])
def test_a_server_port_outside_1_to_65535_is_a_field_error_not_a_connection(
    owner_client, account, port
):
    real = urlsplit(account.server_url)
    # 65616 would wrap around to port 80, and the server's port plus 65536 to the server itself.
    wrapped = str(real.port + 65536) if port == "65536" else port
    response = owner_client.post(
        CONNECT,
        {
            "server_url": f"http://{real.hostname}:{wrapped}{real.path}",
            "username": account.username,
            "password": account.password,
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    # Django's own URL check answers first for what is not a number at all.
    assert "the port must be a number from 1 to 65535" in page or "Enter a valid URL" in page
    assert "field--invalid" in page
    assert not Connection.objects.exists()


def test_a_server_on_a_private_address_tells_the_user_whom_to_ask(owner_client):
    response = owner_client.post(
        CONNECT, {"server_url": "http://192.168.1.20/dav/", "username": "x", "password": "y"}
    )

    page = response.content.decode()
    assert "ask whoever runs this installation" in page
    assert "OUTBOUND" not in page


def test_a_server_on_a_network_the_operator_allows_connects(owner_client, owner, account, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    refused = connect(owner_client, account)
    assert refused.status_code == 200
    assert not Connection.objects.exists()

    # The suite's Radicale listens on 127.0.0.1: here it stands for a server on a private network.
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/30")]
    response = connect(owner_client, account)

    assert response.status_code == 302
    connection = Connection.objects.get(user=owner)
    assert connection.calendars.count() == 2


class RedirectPastTheLastPort(BaseHTTPRequestHandler):
    """A CalDAV server that sends clients to its own port plus 65536, which wraps around to it."""

    def do_PROPFIND(self) -> None:
        self.server.paths.append(self.path)
        self.send_response(301)
        self.send_header("Location", f"http://127.0.0.1:{self.server.server_port + 65536}/dav/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_redirecting_past_the_last_port_is_refused_without_wrapping_around(owner_client):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RedirectPastTheLastPort)
    server.paths = []
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        response = owner_client.post(
            CONNECT,
            {
                "server_url": f"http://127.0.0.1:{server.server_port}/",
                "username": "x",
                "password": "y",
            },
        )
    finally:
        server.shutdown()
        server.server_close()

    assert response.status_code == 200
    assert "the port must be a number from 1 to 65535" in response.content.decode()
    assert server.paths == ["/"]
    assert not Connection.objects.exists()
