"""Google push notifications: verified before anything is queued, one coalesced sync per burst."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import path

from calendars.models import Connection
from calendars.webhooks.google import google_notification
from integrations.google.provider import GoogleProvider
from integrations.push import channel_secret
from syncrules import tasks
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.rule_page_helpers import forget_queued

if TYPE_CHECKING:
    from tests.fakes.google import GoogleFake


# The receiver is not in the project's URLs yet; these tests route to it on their own.
HOOK_PATH = "/hooks/google/"
urlpatterns = [path(HOOK_PATH.strip("/") + "/", google_notification)]

CHANNEL_ID = "4ba7c2b8-2f9a-4f2e-8c55-6d0f7f2a9e10"
RESOURCE_ID = "ret08u3rv24htgh289g"


@pytest.fixture(autouse=True)
def hook_urls(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def enqueued(monkeypatch):
    """The syncs sent to the broker, by calendar id (the coalescing keys are cleaned up)."""
    sent: list[str] = []
    monkeypatch.setattr(
        tasks.sync_calendar,
        "apply_async",
        lambda args, kwargs=None, **options: sent.append(args[0]),
    )
    yield sent
    forget_queued(set(sent))


@pytest.fixture
def calendar(owner):
    connection = ConnectionFactory(
        user=owner, kind=Connection.Kind.GOOGLE, label="owner@example.com", server_url=""
    )
    return CalendarFactory(
        connection=connection,
        remote_id="owner@example.com",
        push_channel_id=CHANNEL_ID,
        push_resource_id=RESOURCE_ID,
    )


@pytest.fixture
def google():
    """A client as strict as a browser about CSRF, so the receiver must be exempt."""
    return Client(enforce_csrf_checks=True)


def notify(
    client: Client,
    *,
    channel_id: str = CHANNEL_ID,
    token: str | None = None,
    resource_id: str = RESOURCE_ID,
    state: str = "exists",
):
    headers = {
        "X-Goog-Channel-ID": channel_id,
        "X-Goog-Channel-Token": channel_secret(channel_id) if token is None else token,
        "X-Goog-Resource-ID": resource_id,
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": "2",
    }
    return client.post(HOOK_PATH, headers=headers)


def assert_nothing_queued(enqueued: list[str], calendar) -> None:
    assert enqueued == []
    assert cache.get(tasks.queued_key(str(calendar.id), settings.CELERY_TASK_DEFAULT_QUEUE)) is None


pytestmark = pytest.mark.django_db


def test_a_change_notification_queues_one_sync_of_its_calendar(
    google, calendar, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = notify(google, state="exists")

    assert response.status_code == 200
    assert enqueued == [str(calendar.id)]


def test_a_burst_of_notifications_queues_one_sync(
    google, calendar, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [notify(google, state=s).status_code for s in ["exists", "not_exists"] * 5]

    assert statuses == [200] * 10
    assert enqueued == [str(calendar.id)]


def test_the_opening_sync_notification_queues_nothing(
    google, calendar, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = notify(google, state="sync")

    assert response.status_code == 200
    assert_nothing_queued(enqueued, calendar)


def test_a_forged_token_is_refused_and_queues_nothing(
    google, calendar, enqueued, django_capture_on_commit_callbacks
):
    genuine = channel_secret(CHANNEL_ID)
    forgeries = [
        "",
        "guess",
        genuine[:-1] + ("0" if genuine[-1] != "0" else "1"),
        channel_secret("another-channel"),
        "tökén",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [notify(google, token=forged).status_code for forged in forgeries]

    assert statuses == [403] * len(forgeries)
    assert_nothing_queued(enqueued, calendar)


def test_an_unknown_channel_is_refused_and_queues_nothing(
    google, calendar, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ours_but_forgotten = notify(google, channel_id="an-old-channel-of-ours")
        forged = notify(google, channel_id="someone-elses", token=channel_secret(CHANNEL_ID))

    assert ours_but_forgotten.status_code == 404
    assert forged.status_code == 403
    assert_nothing_queued(enqueued, calendar)


def test_a_wrong_resource_id_is_refused_and_queues_nothing(
    google, calendar, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = notify(google, resource_id="another-resource")

    assert response.status_code == 403
    assert_nothing_queued(enqueued, calendar)


def test_a_calendar_without_a_channel_is_never_matched(
    google, calendar, enqueued, django_capture_on_commit_callbacks
):
    calendar.push_channel_id = calendar.push_resource_id = ""
    calendar.save(update_fields=["push_channel_id", "push_resource_id"])

    with django_capture_on_commit_callbacks(execute=True):
        empty = notify(google, channel_id="", resource_id="")
        stale = notify(google)

    assert (empty.status_code, stale.status_code) == (400, 404)
    assert_nothing_queued(enqueued, calendar)


def test_only_posts_are_accepted(google, calendar, enqueued):
    response = google.get(HOOK_PATH, headers={"X-Goog-Channel-ID": CHANNEL_ID})

    assert response.status_code == 405
    assert_nothing_queued(enqueued, calendar)


@pytest.mark.django_db(transaction=True)
def test_a_channel_opened_at_the_fake_delivers_its_notifications_end_to_end(
    google_fake: GoogleFake, live_server, owner, enqueued
):
    google_fake.add_calendar("owner@example.com", "Work")
    provider = GoogleProvider.from_secrets(google_fake.grant())
    connection = ConnectionFactory(user=owner, kind=Connection.Kind.GOOGLE, server_url="")
    calendar = CalendarFactory(connection=connection, remote_id="owner@example.com")
    resource_id, expires_at = provider.watch(
        calendar.remote_id, channel_id=CHANNEL_ID, address=f"{live_server.url}{HOOK_PATH}"
    )
    calendar.push_channel_id, calendar.push_resource_id = CHANNEL_ID, resource_id
    calendar.push_expires_at = expires_at
    calendar.save(update_fields=["push_channel_id", "push_resource_id", "push_expires_at"])

    assert google_fake.push(CHANNEL_ID, "sync") == 200
    assert enqueued == []
    assert google_fake.push(CHANNEL_ID, "exists") == 200
    assert google_fake.push(CHANNEL_ID, "exists", token="forged") == 403
    assert enqueued == [str(calendar.id)]
