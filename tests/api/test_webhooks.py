from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import AuditLog
from api.scopes import Scope
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import MAX_SUBSCRIPTIONS

pytestmark = pytest.mark.django_db

RECEIVER = "http://127.0.0.1:9/hooks/multical"


def _add(api, **fields):
    body = {"url": RECEIVER, "events": ["booking.created", "rule.paused"], **fields}
    return api.post("/webhooks", body)


def test_a_webhook_added_through_the_api_shows_its_secret_once(owner, owner_api):
    response = _add(owner_api)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["booking.created", "rule.paused"]
    assert "secret" not in owner_api.get(f"/webhooks/{body['id']}").json()
    assert "secret" not in owner_api.get("/webhooks").json()["items"][0]
    assert AuditLog.objects.filter(user=owner, action=AuditLog.Action.WEBHOOK_CREATED).exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "ftp://127.0.0.1/hook",
        "not an address",
    ],
)
def test_an_address_the_guard_refuses_is_a_field_problem(owner_api, url, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False

    response = _add(owner_api, url=url)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "url"
    assert WebhookSubscription.objects.count() == 0


def test_unknown_or_no_events_are_refused(owner_api):
    for events in (["booking.exploded"], [], ["webhook.test"]):
        response = _add(owner_api, events=events)
        assert response.status_code == 422, events
    assert WebhookSubscription.objects.count() == 0


def test_patch_pauses_resumes_and_changes_the_events(owner_api):
    made = _add(owner_api).json()

    paused = owner_api.patch(f"/webhooks/{made['id']}", {"active": False}).json()
    changed = owner_api.patch(
        f"/webhooks/{made['id']}", {"events": ["booking.cancelled"], "active": True}
    ).json()

    assert paused["active"] is False and paused["paused_reason"] == "owner"
    assert changed["active"] is True and changed["events"] == ["booking.cancelled"]


def test_a_new_secret_keeps_the_old_one_for_the_overlap(owner_api):
    made = _add(owner_api).json()

    rotated = owner_api.post(f"/webhooks/{made['id']}/rotate-secret").json()

    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    assert rotated["previous_valid_until"] > made["created_at"]


def test_a_test_event_is_recorded_and_logged(owner_api, django_capture_on_commit_callbacks):
    made = _add(owner_api).json()

    with django_capture_on_commit_callbacks():
        sent = owner_api.post(f"/webhooks/{made['id']}/test")

    assert sent.status_code == 202
    assert sent.json()["event_type"] == "webhook.test"
    log = owner_api.get(f"/webhooks/{made['id']}/deliveries").json()["items"]
    assert [item["id"] for item in log] == [sent.json()["id"]]
    assert WebhookDelivery.objects.filter(subscription_id=made["id"]).count() == 1


def test_delete_removes_the_webhook_and_its_log(owner_api):
    made = _add(owner_api).json()

    assert owner_api.delete(f"/webhooks/{made['id']}").status_code == 204
    assert owner_api.get(f"/webhooks/{made['id']}").status_code == 404
    assert not WebhookSubscription.objects.filter(id=made["id"]).exists()


def test_a_read_key_cannot_add_or_change_webhooks(owner, owner_api, make_api):
    made = _add(owner_api).json()
    reader = make_api(owner, scopes=[Scope.WEBHOOKS_READ])

    assert reader.get(f"/webhooks/{made['id']}").status_code == 200
    assert _add(reader).status_code == 403
    assert reader.patch(f"/webhooks/{made['id']}", {"active": False}).status_code == 403
    assert reader.delete(f"/webhooks/{made['id']}").status_code == 403
    assert mail.outbox == []


def test_another_users_key_finds_no_webhook(owner_api, second_user, make_api):
    made = _add(owner_api).json()
    theirs = make_api(second_user)

    for response in (
        theirs.get(f"/webhooks/{made['id']}"),
        theirs.patch(f"/webhooks/{made['id']}", {"active": False}),
        theirs.post(f"/webhooks/{made['id']}/rotate-secret"),
        theirs.post(f"/webhooks/{made['id']}/test"),
        theirs.get(f"/webhooks/{made['id']}/deliveries"),
        theirs.delete(f"/webhooks/{made['id']}"),
    ):
        assert response.status_code == 404
    assert WebhookSubscription.objects.get(id=made["id"]).active


def test_past_the_accounts_limit_a_webhook_is_a_conflict(owner_api):
    for _ in range(MAX_SUBSCRIPTIONS):
        assert _add(owner_api).status_code == 201

    response = _add(owner_api)

    assert response.status_code == 409
    assert response.json()["code"] == "too_many_webhooks"
    assert WebhookSubscription.objects.count() == MAX_SUBSCRIPTIONS
