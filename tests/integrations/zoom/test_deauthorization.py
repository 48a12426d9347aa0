"""Zoom's notices: a user who removes the app at Zoom is forgotten at once; the endpoint answers
Zoom's validation challenge."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from calendars import services
from calendars.models import Connection
from calendars.selectors import connection_secrets
from calendars.zoom_tokens import client_for_connection
from integrations.base import ProviderError
from tests.factories import UserFactory
from tests.multical.test_project_checks import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.django_db

HOOK = "zoom_notification"


def connect_zoom(client: Client, zoom_fake) -> Connection:
    """The signed-in user connects Zoom through the whole OAuth flow."""
    url = client.post(reverse("calendars_oauth:zoom_connect"))["Location"]
    response = client.get(reverse("calendars_oauth:zoom_callback"), zoom_fake.consent(url))
    assert response.status_code == 302
    return Connection.objects.filter(kind=Connection.Kind.ZOOM).latest("created_at")


def deliver(zoom_fake, event: dict) -> object:
    body, headers = zoom_fake.signed(event)
    return Client().post(reverse(HOOK), data=body, content_type="application/json", **headers)


@pytest.fixture
def two_zoom_users(owner, owner_client, zoom_fake) -> tuple[Connection, Connection]:
    """The owner's Zoom connection and another customer's, each of their own Zoom user."""
    mine = connect_zoom(owner_client, zoom_fake)
    zoom_fake.user_id, zoom_fake.email = "Fq3p0WvXRny9P2bK7wQm1A", "other@zoom.example"
    other_client = Client()
    other_client.force_login(UserFactory(email="other@example.com"))
    theirs = connect_zoom(other_client, zoom_fake)
    return mine, theirs


def test_the_connection_keeps_zooms_id_of_the_user_sealed_with_the_tokens(
    owner, owner_client, zoom_fake
):
    connection = connect_zoom(owner_client, zoom_fake)

    assert connection_secrets(connection)["user_id"] == zoom_fake.user_id


def test_zooms_deauthorization_notice_forgets_that_users_credentials_at_once(
    zoom_fake, two_zoom_users, django_capture_on_commit_callbacks
):
    mine, theirs = two_zoom_users

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(zoom_fake, zoom_fake.deauthorization(user_id="KDcuGIm1QgePTO8WbOqwIQ"))

    assert response.status_code == 204
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.secrets == ""
    assert mine.status == Connection.Status.NEEDS_RECONNECT
    assert mine.last_error == services.ZOOM_REMOVED
    assert theirs.status == Connection.Status.OK
    assert connection_secrets(theirs)["user_id"] == "Fq3p0WvXRny9P2bK7wQm1A"
    # Its owner is told, and nothing is asked of Zoom with credentials that are gone.
    assert [message.to for message in mail.outbox] == [["owner@example.com"]]
    requests_before = len(zoom_fake.requests) + len(zoom_fake.token_requests)
    with pytest.raises(ProviderError) as refused:
        client_for_connection(mine).delete_meeting("85746065432")
    assert refused.value.permanent
    assert len(zoom_fake.requests) + len(zoom_fake.token_requests) == requests_before


def test_a_notice_for_a_zoom_user_nobody_connected_changes_nothing(zoom_fake, two_zoom_users):
    response = deliver(zoom_fake, zoom_fake.deauthorization(user_id="NobodyHere0000000000Aa"))

    assert response.status_code == 204
    assert set(
        Connection.objects.filter(kind=Connection.Kind.ZOOM).values_list("status", flat=True)
    ) == {Connection.Status.OK}


def test_a_notice_for_another_app_changes_nothing(zoom_fake, two_zoom_users):
    event = zoom_fake.deauthorization(user_id="KDcuGIm1QgePTO8WbOqwIQ")
    event["payload"]["client_id"] = "SomeoneElsesApp"

    response = deliver(zoom_fake, event)

    assert response.status_code == 400
    assert not Connection.objects.filter(secrets="").exists()


def test_the_validation_challenge_is_answered_with_the_hmac_of_its_token(zoom_fake):
    response = deliver(zoom_fake, zoom_fake.url_validation("qgg8vlvZRS6UYooatFL8Aw"))

    assert response.status_code == 200
    expected = hmac.new(
        zoom_fake.webhook_secret_token.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256
    ).hexdigest()
    assert json.loads(response.content) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }


def test_other_events_are_acknowledged_and_change_nothing(zoom_fake, two_zoom_users):
    event = {"event": "meeting.started", "payload": {"object": {"id": "85746065432"}}}

    response = deliver(zoom_fake, event)

    assert response.status_code == 204
    assert not Connection.objects.filter(secrets="").exists()


def test_without_a_secret_token_the_endpoint_is_not_there(zoom_fake, settings):
    settings.ZOOM_WEBHOOK_SECRET_TOKEN = ""
    body, headers = zoom_fake.signed(zoom_fake.url_validation(), secret="")

    response = Client().post(reverse(HOOK), data=body, content_type="application/json", **headers)

    assert response.status_code == 404


def test_production_refuses_a_zoom_app_without_its_webhook_secret_token():
    env = {**PRODUCTION_ENV, "ZOOM_CLIENT_ID": "zoom-id", "ZOOM_CLIENT_SECRET": "zoom-secret"}

    refused = run_manage("check", env=env)
    accepted = run_manage("check", env={**env, "ZOOM_WEBHOOK_SECRET_TOKEN": "zoom-token"})

    assert refused.returncode != 0
    assert "Set the environment variable ZOOM_WEBHOOK_SECRET_TOKEN" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
