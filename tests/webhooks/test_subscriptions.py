"""Subscriptions: only https addresses on the public internet (attack tests), events we send,
a secret sealed and shown once, and every action through the settings pages, for the owner
only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from multical.lib import vault
from tests.multical.test_safe_http import FakeDNS
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    import socket

    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.fixture
def loopback_off(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False


SSRF_TARGETS = [
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://10.0.0.1/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:10.0.0.1]/",
    "https://0.0.0.0/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://[fe80::1]/",
    "https://224.0.0.1/",
]


@pytest.mark.usefixtures("loopback_off")
@pytest.mark.parametrize("url", SSRF_TARGETS)
def test_a_private_loopback_or_metadata_address_is_refused(owner, url):
    with pytest.raises(services.InvalidWebhookURL):
        services.subscription_create(user=owner, url=url, events=["booking.created"])
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/hook",
        "ftp://hooks.example.com/hook",
        "webcal://hooks.example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://user:pass@hooks.example.com/hook",
        "hooks.example.com/hook",
    ],
)
def test_anything_but_https_is_refused(owner, dns, url):
    dns.answers["hooks.example.com"] = [["93.184.215.14"]]
    with pytest.raises(services.InvalidWebhookURL):
        services.subscription_create(user=owner, url=url, events=["booking.created"])


def test_a_name_resolving_to_a_private_address_is_refused(owner, dns):
    dns.answers["internal.example"] = [["93.184.215.14", "10.0.0.7"]]
    with pytest.raises(services.InvalidWebhookURL):
        services.subscription_create(
            user=owner, url="https://internal.example/hook", events=["booking.created"]
        )


def test_a_public_https_address_is_accepted(owner, dns):
    dns.answers["hooks.example.com"] = [["93.184.215.14"]]
    subscription, _ = services.subscription_create(
        user=owner, url="https://hooks.example.com/multical?k=1", events=["booking.created"]
    )
    assert subscription.url == "https://hooks.example.com/multical?k=1"


def test_plain_http_to_loopback_only_with_the_explicit_setting(owner, settings):
    services.subscription_create(user=owner, url="http://127.0.0.1:9/hook", events=["rule.paused"])
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    with pytest.raises(services.InvalidWebhookURL):
        services.subscription_create(
            user=owner, url="http://127.0.0.1:9/hook", events=["rule.paused"]
        )


def test_a_name_that_later_resolves_privately_is_refused_at_delivery(owner, dns, queued):
    dns.answers["hooks.example.com"] = [["93.184.215.14"]]
    subscription, _ = services.subscription_create(
        user=owner, url="https://hooks.example.com/hook", events=["rule.paused"]
    )
    dns.answers["hooks.example.com"] = [["169.254.169.254"]]
    delivery = services.subscription_send_test(subscription=subscription)
    services.delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert (delivery.last_error, delivery.last_status_code) == ("refused", None)


@pytest.mark.parametrize("events", [[], ["webhook.test"], ["booking.deleted"]])
def test_events_must_be_ones_we_send(owner, events):
    with pytest.raises(services.InvalidWebhookEvents):
        services.subscription_create(user=owner, url="http://127.0.0.1:9/h", events=events)


def test_the_secret_is_sealed_bound_to_its_row_and_never_in_the_clear(owner):
    subscription, secret = services.subscription_create(
        user=owner, url="http://127.0.0.1:9/h", events=["rule.paused"]
    )
    stored = WebhookSubscription.objects.filter(id=subscription.id).values("secret").get()
    assert secret not in stored["secret"]
    assert vault.unseal(stored["secret"], context=vault.context_for(subscription, "secret")) == (
        secret
    )
    entry = AuditLog.objects.get(user=owner)
    assert entry.action == AuditLog.Action.WEBHOOK_CREATED
    assert entry.metadata == {"subscription": str(subscription.id), "host": "127.0.0.1"}


# The pages. --------------------------------------------------------------------------------------


def test_adding_a_webhook_shows_its_secret_once(owner_client, owner):
    response = owner_client.post(
        reverse("webhooks:subscription_create"),
        {"url": "http://127.0.0.1:9/hook", "events": ["booking.created", "booking.cancelled"]},
    )
    subscription = WebhookSubscription.objects.get(user=owner)
    assert subscription.events == ["booking.created", "booking.cancelled"]
    shown = response.context["secret"]
    assert shown.startswith("whsec_") and shown in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    detail = owner_client.get(reverse("webhooks:subscription_detail", args=[subscription.id]))
    assert shown not in detail.content.decode()


def test_a_refused_address_is_said_on_the_form(owner_client, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    response = owner_client.post(
        reverse("webhooks:subscription_create"),
        {"url": "https://169.254.169.254/", "events": ["booking.created"]},
    )
    assert response.status_code == 200
    assert "reserved for special uses" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_the_owner_edits_pauses_resumes_tests_rotates_and_deletes(owner_client, owner, queued):
    subscription, secret = services.subscription_create(
        user=owner, url="http://127.0.0.1:9/hook", events=["booking.created"]
    )
    detail = reverse("webhooks:subscription_detail", args=[subscription.id])

    owner_client.post(detail, {"url": "http://127.0.0.1:8/new", "events": ["rule.paused"]})
    subscription.refresh_from_db()
    assert (subscription.url, subscription.events) == ("http://127.0.0.1:8/new", ["rule.paused"])

    owner_client.post(reverse("webhooks:subscription_pause", args=[subscription.id]))
    subscription.refresh_from_db()
    assert (subscription.active, subscription.paused_reason) == (False, "owner")
    owner_client.post(reverse("webhooks:subscription_resume", args=[subscription.id]))
    subscription.refresh_from_db()
    assert subscription.active

    owner_client.post(reverse("webhooks:subscription_test", args=[subscription.id]))
    assert WebhookDelivery.objects.get().event_type == "webhook.test"
    log = owner_client.get(reverse("webhooks:delivery_log", args=[subscription.id]))
    assert "webhook.test" in log.content.decode()

    rotated = owner_client.post(reverse("webhooks:subscription_rotate", args=[subscription.id]))
    assert rotated.context["secret"] not in {secret, None}

    owner_client.post(reverse("webhooks:subscription_delete", args=[subscription.id]))
    assert not WebhookSubscription.objects.exists()
    assert list(
        AuditLog.objects.filter(user=owner).order_by("created_at").values_list("action", flat=True)
    ) == ["webhook_created", "webhook_secret_rotated", "webhook_deleted"]


def test_the_list_shows_only_the_users_own_webhooks(owner_client, owner, second_user):
    services.subscription_create(user=owner, url="http://127.0.0.1:9/mine", events=["rule.paused"])
    services.subscription_create(
        user=second_user, url="http://127.0.0.1:9/theirs", events=["rule.paused"]
    )
    page = owner_client.get(reverse("webhooks:subscription_list")).content.decode()
    assert "/mine" in page and "/theirs" not in page


def test_another_users_webhook_is_a_404_on_every_page(client, owner, outsider):
    subscription, _ = services.subscription_create(
        user=owner, url="http://127.0.0.1:9/hook", events=["rule.paused"]
    )
    client.force_login(outsider)
    for name in [
        "subscription_detail",
        "delivery_log",
        "subscription_pause",
        "subscription_resume",
        "subscription_test",
        "subscription_rotate",
        "subscription_delete",
    ]:
        url = reverse(f"webhooks:{name}", args=[subscription.id])
        assert client.post(url).status_code == 404, name
    subscription.refresh_from_db()
    assert subscription.active and not WebhookDelivery.objects.exists()


def test_the_security_log_names_the_webhook_by_its_host(owner_client, owner):
    services.subscription_create(
        user=owner, url="http://127.0.0.1:9/hook?token=receiver-secret", events=["rule.paused"]
    )
    page = owner_client.get(reverse("accounts:security")).content.decode()
    assert "Added a webhook" in page and "127.0.0.1" in page
    assert "receiver-secret" not in page


def test_an_account_has_at_most_ten_webhooks(owner_client, owner):
    for number in range(services.MAX_SUBSCRIPTIONS):
        services.subscription_create(
            user=owner, url=f"http://127.0.0.1:9/{number}", events=["rule.paused"]
        )
    with pytest.raises(services.TooManyWebhooks):
        services.subscription_create(user=owner, url="http://127.0.0.1:9/x", events=["rule.paused"])
    response = owner_client.post(
        reverse("webhooks:subscription_create"),
        {"url": "http://127.0.0.1:9/x", "events": ["rule.paused"]},
    )
    assert "An account can have up to 10 webhooks." in response.content.decode()
    assert WebhookSubscription.objects.filter(user=owner).count() == 10


def test_test_events_are_limited_per_account(owner_client, owner, queued):
    subscription, _ = services.subscription_create(
        user=owner, url="http://127.0.0.1:9/hook", events=["rule.paused"]
    )
    url = reverse("webhooks:subscription_test", args=[subscription.id])
    answers = [owner_client.post(url).status_code for _ in range(31)]
    assert answers == [302] * 30 + [429]
    assert WebhookDelivery.objects.count() == 30
