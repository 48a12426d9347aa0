"""Graph's notifications reach us: validation echoed, clientState checked, one sync per calendar."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import path
from django.utils import timezone

from calendars import push, tasks
from calendars.models import Connection
from calendars.webhooks import microsoft as webhooks
from integrations.microsoft.credentials import REFUSED
from integrations.push import channel_secret
from syncrules.models import SyncRule
from tests.factories import CalendarFactory, ConnectionFactory
from tests.fakes.microsoft import django_client_deliverer

urlpatterns = [
    path(
        "microsoft/notifications/",
        webhooks.graph_notification,
        name="microsoft_notification",
    ),
    path("microsoft/lifecycle/", webhooks.graph_lifecycle, name="microsoft_lifecycle"),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

NOTIFICATIONS = "/microsoft/notifications/"
LIFECYCLE = "/microsoft/lifecycle/"


@pytest.fixture
def subscription_tasks(monkeypatch) -> list[tuple[str, str]]:
    """The subscription tasks sent to the broker: (task, calendar id)."""
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(
        tasks.renew_push_channel,
        "delay",
        lambda c, anew=False: sent.append(("recreate" if anew else "renew", c)),
    )
    return sent


@pytest.fixture
def subscribe(microsoft_fake, client, owner):
    """Connect a Microsoft account of the owner's and subscribe to its calendar (Graph's
    validation request and later notifications arrive through the test client)."""
    microsoft_fake.graph.deliver = django_client_deliverer(client)

    def subscribe(email: str = "ada@contoso.example"):
        account = microsoft_fake.connect(email)
        connection = ConnectionFactory(
            user=owner, kind=Connection.Kind.MICROSOFT, label=email, secrets=account.secrets
        )
        calendar = CalendarFactory(connection=connection, remote_id=account.default_calendar)
        # Channels are kept for calendars that feed an enabled rule.
        rule = SyncRule.objects.create(user=owner, name=f"{email} → elsewhere")
        rule.sources.add(calendar)
        rule.targets.add(CalendarFactory(connection=ConnectionFactory(user=owner)))
        push.calendar_watch(calendar)
        return calendar

    return subscribe


def post_json(client, url: str, payload: object):
    return client.post(url, data=json.dumps(payload), content_type="application/json")


@pytest.mark.parametrize("url", [NOTIFICATIONS, LIFECYCLE])
def test_graphs_validation_request_is_echoed_as_plain_text(client, django_assert_num_queries, url):
    token = "Validation: Testing client application reachability for subscription Request-Id: 7f1c"

    with django_assert_num_queries(0):
        response = client.post(
            f"{url}?validationToken={quote(token)}", data="", content_type="text/plain"
        )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == token


def test_a_verified_batch_of_duplicates_queues_one_sync_of_its_calendar(
    microsoft_fake, subscribe, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()

    with django_capture_on_commit_callbacks(execute=True):
        first = microsoft_fake.graph.notify(calendar.push_resource_id, copies=3)
        again = microsoft_fake.graph.notify(calendar.push_resource_id, change_type="deleted")

    assert (first.status, again.status) == (202, 202)
    assert enqueued.syncs == [str(calendar.id)]
    assert not enqueued.full(calendar.id)


def test_a_notification_with_a_wrong_client_state_queues_nothing(
    microsoft_fake, subscribe, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()

    with django_capture_on_commit_callbacks(execute=True):
        forged = microsoft_fake.graph.notify(
            calendar.push_resource_id, client_state=channel_secret("some-other-channel")
        )
        empty = microsoft_fake.graph.notify(calendar.push_resource_id, client_state="")

    assert (forged.status, empty.status) == (202, 202)
    assert enqueued.syncs == []


def test_a_notification_for_an_unknown_subscription_queues_nothing(
    client, subscribe, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()
    unknown = {
        "subscriptionId": str(uuid.uuid4()),
        "clientState": channel_secret(calendar.push_channel_id),
        "changeType": "updated",
        "resource": "Users/x/Events/y",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, NOTIFICATIONS, {"value": [unknown]})

    assert response.status_code == 202
    assert enqueued.syncs == []


def test_a_forged_item_in_a_batch_does_not_queue_its_calendar(
    client, subscribe, enqueued, django_capture_on_commit_callbacks
):
    genuine, other = subscribe("ada@contoso.example"), subscribe("grace@contoso.example")
    items = [
        {
            "subscriptionId": genuine.push_resource_id,
            "clientState": channel_secret(genuine.push_channel_id),
        },
        # The other calendar's subscription, with a secret that belongs to the first one.
        {
            "subscriptionId": other.push_resource_id,
            "clientState": channel_secret(genuine.push_channel_id),
        },
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, NOTIFICATIONS, {"value": items})

    assert response.status_code == 202
    assert enqueued.syncs == [str(genuine.id)]


def test_a_replaced_subscriptions_notifications_are_ignored(
    microsoft_fake, client, subscribe, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()
    old_id, old_state = calendar.push_resource_id, channel_secret(calendar.push_channel_id)
    push.calendar_watch(calendar, anew=True)
    stale = {"subscriptionId": old_id, "clientState": old_state}

    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, NOTIFICATIONS, {"value": [stale]})

    assert response.status_code == 202
    assert enqueued.syncs == []
    assert list(microsoft_fake.graph.subscriptions) == [calendar.push_resource_id]


@pytest.mark.parametrize("url", [NOTIFICATIONS, LIFECYCLE])
@pytest.mark.parametrize(
    "body", [b"not json", b'{"value": "x"}', b"[1, 2]"], ids=["text", "no list", "array"]
)
def test_a_body_that_is_not_a_notification_batch_is_rejected(client, enqueued, url, body):
    response = client.post(url, data=body, content_type="application/json")

    assert response.status_code == 400
    assert enqueued.syncs == []


def test_only_post_is_accepted(client):
    assert client.get(f"{NOTIFICATIONS}?validationToken=x").status_code == 405


# Lifecycle ----------------------------------------------------------------------------------


def test_reauthorization_required_renews_the_subscription(
    microsoft_fake, subscribe, subscription_tasks, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()
    microsoft_fake.graph.subscription_max_minutes = 4230

    with django_capture_on_commit_callbacks(execute=True):
        delivery = microsoft_fake.graph.send_lifecycle(
            calendar.push_resource_id, "reauthorizationRequired"
        )
    assert delivery.status == 202
    assert subscription_tasks == [("renew", str(calendar.id))]
    assert enqueued.syncs == []

    before = calendar.push_expires_at
    tasks.renew_push_channel(str(calendar.id))
    calendar.refresh_from_db()
    assert microsoft_fake.graph.count("PATCH", f"/subscriptions/{calendar.push_resource_id}") == 1
    assert calendar.push_expires_at >= before


def test_a_removed_subscription_is_created_again_and_the_calendar_read_in_full(
    microsoft_fake, subscribe, subscription_tasks, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()
    removed_id = calendar.push_resource_id

    with django_capture_on_commit_callbacks(execute=True):
        microsoft_fake.graph.send_lifecycle(removed_id, "subscriptionRemoved")
    assert subscription_tasks == [("recreate", str(calendar.id))]
    assert enqueued.syncs == [str(calendar.id)] and enqueued.full(calendar.id)

    tasks.renew_push_channel(str(calendar.id), anew=True)
    calendar.refresh_from_db()
    assert calendar.push_resource_id not in ("", removed_id)
    assert list(microsoft_fake.graph.subscriptions) == [calendar.push_resource_id]


def test_missed_notifications_queue_a_sync(
    microsoft_fake, subscribe, subscription_tasks, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()

    with django_capture_on_commit_callbacks(execute=True):
        microsoft_fake.graph.send_lifecycle(calendar.push_resource_id, "missed")

    assert enqueued.syncs == [str(calendar.id)] and not enqueued.full(calendar.id)
    assert subscription_tasks == []


def test_a_lifecycle_event_with_a_wrong_client_state_does_nothing(
    microsoft_fake, subscribe, subscription_tasks, enqueued, django_capture_on_commit_callbacks
):
    calendar = subscribe()

    with django_capture_on_commit_callbacks(execute=True):
        for event in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
            microsoft_fake.graph.send_lifecycle(
                calendar.push_resource_id, event, client_state="guessed"
            )

    assert subscription_tasks == [] and enqueued.syncs == []


def test_subscriptions_with_less_than_a_day_left_are_renewed(
    subscribe, subscription_tasks, django_capture_on_commit_callbacks
):
    soon, later = subscribe("ada@contoso.example"), subscribe("grace@contoso.example")
    soon.push_expires_at = timezone.now() + timedelta(hours=3)
    soon.save(update_fields=["push_expires_at"])
    later.push_expires_at = timezone.now() + timedelta(days=2)
    later.save(update_fields=["push_expires_at"])

    with django_capture_on_commit_callbacks(execute=True):
        tasks.renew_push_channels()

    assert subscription_tasks == [("renew", str(soon.id))]


def test_a_renewal_refused_for_good_marks_the_connection_for_reconnect(microsoft_fake, subscribe):
    calendar = subscribe()
    user = next(iter(microsoft_fake.identity.users.values()))
    microsoft_fake.identity.revoke(user)
    microsoft_fake.identity.expire_access_tokens(user)

    tasks.renew_push_channel(str(calendar.id))

    calendar.connection.refresh_from_db()
    assert calendar.connection.status == Connection.Status.NEEDS_RECONNECT
    assert calendar.connection.last_error == REFUSED


def test_thirty_days_of_hourly_upkeep_never_leave_a_subscription_lapsed(
    microsoft_fake, subscribe, run_tasks_inline
):
    from datetime import UTC, datetime

    import time_machine

    start = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        calendar = subscribe()
        for hour in range(30 * 24):
            now = start + timedelta(hours=hour)
            clock.move_to(now)
            with run_tasks_inline():
                tasks.renew_push_channels()
            calendar.refresh_from_db()
            subscription = microsoft_fake.graph.subscriptions[calendar.push_resource_id]
            expires = datetime.fromisoformat(
                subscription["expirationDateTime"].replace("Z", "+00:00")
            )
            assert expires > now, f"the subscription lapsed at hour {hour}"
    assert len(microsoft_fake.graph.subscriptions) == 1  # renewed in place, never piled up
