"""Adding an iCal link through the page, against a local feed server."""

from urllib.parse import urlsplit

import pytest
from django.db import connection as db_connection
from django.urls import reverse

from accounts.models import AuditLog
from calendars.models import Connection
from calendars.selectors import connection_secrets

pytestmark = pytest.mark.django_db

CONNECT = reverse("calendars:connect_ics")


def test_a_valid_link_becomes_a_read_only_calendar(owner_client, owner, feed):
    feed.serve_file("google.ics")

    response = owner_client.post(CONNECT, {"url": feed.url, "label": ""})

    assert response.status_code == 302
    connection = Connection.objects.get(user=owner)
    assert connection.kind == Connection.Kind.ICS
    calendar = connection.calendars.get()
    assert calendar.read_only
    assert connection.label == calendar.name  # the feed's own name when no label is given
    assert connection_secrets(connection) == {"url": feed.url}


def test_the_link_is_stored_only_sealed_and_never_audited(owner_client, owner, feed):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT, {"url": feed.url, "label": "Team"})

    with db_connection.cursor() as cursor:
        cursor.execute("SELECT secrets, label, server_url FROM calendars_connection")
        row = cursor.fetchone()
    assert all(feed.url not in str(value) for value in row)
    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.CONNECTION_ADDED)
    assert feed.url not in str(entry.metadata)
    assert entry.metadata["provider"] == "ics"


def test_a_webcal_link_is_fetched_over_https(owner_client, feed):
    feed.serve_file("icloud.ics")

    response = owner_client.post(
        CONNECT, {"url": feed.url.replace("http://", "webcal://"), "label": ""}
    )

    # The local feed speaks plain HTTP, so the HTTPS attempt fails, and says so on the form.
    assert response.status_code == 200
    assert "The server could not be reached." in response.content.decode()
    assert feed.requests == []


def test_an_html_page_is_refused_on_the_form(owner_client, feed):
    feed.serve(b"<!doctype html><html><body>Please sign in</body></html>")

    response = owner_client.post(CONNECT, {"url": feed.url, "label": ""})

    assert response.status_code == 200
    assert "This link does not lead to an iCalendar file." in response.content.decode()
    assert not Connection.objects.exists()


def test_a_link_to_a_private_address_is_refused_on_the_form(owner_client):
    response = owner_client.post(
        CONNECT, {"url": "http://169.254.169.254/latest/meta-data/", "label": ""}
    )

    assert response.status_code == 200
    assert (
        "private network" in response.content.decode()
        or "cannot be used" in response.content.decode()
    )
    assert not Connection.objects.exists()


def test_a_link_that_is_gone_is_refused_on_the_form(owner_client, feed):
    feed.status = 404
    response = owner_client.post(CONNECT, {"url": feed.url, "label": ""})
    assert response.status_code == 200
    assert "HTTP 404" in response.content.decode()


def test_changing_the_link_checks_the_new_one_first(owner_client, owner, feed):
    feed.serve_file("google.ics")
    owner_client.post(CONNECT, {"url": feed.url, "label": "Team"})
    connection = Connection.objects.get(user=owner)
    url = reverse("calendars:connection_credentials", args=[connection.id])

    refused = owner_client.post(url, {"url": "ftp://files.example.com/cal.ics"})
    assert refused.status_code == 200
    assert connection_secrets(Connection.objects.get()) == {"url": feed.url}

    feed.serve_file("icloud.ics")
    accepted = owner_client.post(url, {"url": feed.url + "?v=2"})
    assert accepted.status_code == 302
    assert connection_secrets(Connection.objects.get()) == {"url": feed.url + "?v=2"}


@pytest.mark.parametrize("port", ["65616", "65536", "0", "-1", "99999999999999999999", "ics"])
def test_a_link_with_a_port_outside_1_to_65535_is_a_field_error(owner_client, feed, port):
    feed.serve_file("google.ics")
    real = urlsplit(feed.url)
    # The feed's own port plus 65536 would wrap around to the feed itself.
    wrapped = str(real.port + 65536) if port == "65536" else port

    response = owner_client.post(
        CONNECT, {"url": f"http://{real.hostname}:{wrapped}{real.path}", "label": ""}
    )

    assert response.status_code == 200
    assert "the port must be a number from 1 to 65535" in response.content.decode()
    assert feed.requests == []
    assert not Connection.objects.exists()
