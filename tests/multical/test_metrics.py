"""/metrics: served only to the scraper with the token, and showing what every process recorded.

Counters and histograms live in the real Redis (so another process's observations are read here),
queue depths are read from the real broker lists, and the backlog gauges from PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from booking import tasks as booking_tasks
from booking.models import Profile
from calendars.models import Connection
from multical import metrics
from syncrules.models import SyncState
from tests.booking.test_follow_up import make_booking
from tests.factories import CalendarFactory, ConnectionFactory
from tests.syncrules.world import make_world

TOKEN = "scrape-token-0123456789abcdef"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def fresh_metrics(settings):
    """This test process's metrics, emptied before and after (the prefix is this process's)."""
    settings.METRICS_TOKEN = TOKEN
    client = redis.Redis.from_url(settings.REDIS_URL)

    def empty() -> None:
        for key in client.scan_iter(match=f"{settings.METRICS_KEY_PREFIX}:*", count=1000):
            client.delete(key)

    empty()
    yield
    empty()


def scrape(client) -> Samples:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


# --- Who may read them ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Bearer {TOKEN[:-1]}", f"bearer {TOKEN}", TOKEN, f"Bearer {TOKEN} ", "Bearer é"],
)
def test_anyone_without_the_exact_token_gets_404(client, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = client.get("/metrics", **headers)

    assert response.status_code == 404
    assert b"multical_" not in response.content


@pytest.mark.django_db
def test_without_a_token_configured_nobody_reads_them(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


@pytest.mark.django_db
def test_the_scraper_with_the_token_reads_every_metric(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert names >= {
        "multical_syncs",
        "multical_sync_duration_seconds",
        "multical_sync_lag_seconds",
        "multical_provider_errors",
        "multical_webhook_answer_seconds",
        "multical_polls",
        "multical_polls_queued_per_tick",
        "multical_booking_follow_up_lag_seconds",
        "multical_celery_queue_length",
        "multical_sync_requests_waiting",
        "multical_sync_oldest_waiting_seconds",
        "multical_connections_needing_reconnect",
    }
    assert response["Cache-Control"].startswith("max-age=0")


# --- Shared by every process ---------------------------------------------------------------------


@pytest.mark.django_db
def test_observations_made_in_another_process_are_read_by_the_web_process(client):
    code = (
        "import django; django.setup()\n"
        "from multical.metrics import SyncFinished, syncs_finished\n"
        "syncs_finished(\n"  # a batch: three alike, added up before they are sent
        "    [SyncFinished('caldav', 'ok', 0.2, 4)] * 3 + [SyncFinished('google', 'failed', 1.5, None)]\n"
        ")\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        cwd=settings.BASE_DIR,
        check=True,
        timeout=60,
    )
    metrics.syncs_finished([metrics.SyncFinished("caldav", "ok", 0.3, 1)])

    samples = scrape(client)

    assert samples[("multical_syncs_total", labels(provider="caldav", outcome="ok"))] == 4
    assert samples[("multical_syncs_total", labels(provider="google", outcome="failed"))] == 1
    assert samples[("multical_sync_lag_seconds_count", labels(provider="caldav"))] == 4
    assert ("multical_sync_lag_seconds_count", labels(provider="google")) not in samples
    assert samples[("multical_sync_duration_seconds_sum", labels(provider="caldav"))] == (
        pytest.approx(0.9)
    )


@pytest.mark.django_db
def test_a_histogram_counts_each_observation_in_its_bucket_and_every_one_above(client):
    for seconds in (0.003, 0.3, 0.5, 7, 99_999):
        metrics.webhook_answered(provider="google", seconds=seconds)

    samples = scrape(client)

    def bucket(le: str) -> float:
        return samples[("multical_webhook_answer_seconds_bucket", labels(le=le, provider="google"))]

    assert bucket("0.005") == 1
    assert bucket("0.25") == 1
    assert bucket("0.5") == 3  # a value on a bound counts in that bucket
    assert bucket("5.0") == 3
    assert bucket("10.0") == 4
    assert bucket("3600.0") == 4
    assert bucket("+Inf") == 5
    assert samples[("multical_webhook_answer_seconds_count", labels(provider="google"))] == 5
    assert samples[("multical_webhook_answer_seconds_sum", labels(provider="google"))] == (
        pytest.approx(100_006.803)
    )


@pytest.mark.django_db
def test_labels_never_carry_an_id_or_a_name(client):
    calendar_id = str(uuid.uuid4())
    metrics.provider_error(provider=calendar_id, kind="Ada's calendar", status=503)
    metrics.provider_error(provider="icloud", kind="throttled", status=429)
    metrics.provider_error(provider="ics", kind="unreachable", status=None)

    samples = scrape(client)

    errors = {key[1]: value for key, value in samples.items() if key[0].startswith("multical_prov")}
    assert errors == {
        labels(provider="other", kind="other", status="5xx"): 1,
        labels(provider="icloud", kind="throttled", status="4xx"): 1,
        labels(provider="ics", kind="unreachable", status="none"): 1,
    }


def test_an_error_is_named_by_what_the_operator_does_about_it():
    assert metrics.error_kind(permanent=False, throttled=True, status=429) == "throttled"
    assert metrics.error_kind(permanent=True, throttled=False, status=401) == "revoked"
    assert metrics.error_kind(permanent=False, throttled=False, status=None) == "unreachable"
    assert metrics.error_kind(permanent=False, throttled=False, status=502) == "refused"


@pytest.mark.django_db
def test_poll_spread_counts_queued_and_skipped_and_the_size_of_each_tick(client):
    metrics.poll_spread(queued=3, skipped=40)
    metrics.poll_spread(queued=0, skipped=43)
    metrics.poll_spread(queued=120, skipped=0)

    samples = scrape(client)

    assert samples[("multical_polls_total", labels(result="queued"))] == 123
    assert samples[("multical_polls_total", labels(result="skipped"))] == 83
    assert samples[("multical_polls_queued_per_tick_bucket", labels(le="5.0"))] == 2
    assert samples[("multical_polls_queued_per_tick_bucket", labels(le="100.0"))] == 2
    assert samples[("multical_polls_queued_per_tick_bucket", labels(le="200.0"))] == 3


@pytest.mark.django_db
def test_a_metric_that_cannot_be_recorded_fails_nothing(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    metrics.webhook_answered(provider="google", seconds=0.01)

    assert "Metrics not recorded: Redis failed (ConnectionError)" in caplog.text


# --- Read at scrape time -------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_depths_are_read_from_the_broker(client, settings):
    queues = (f"metrics-test-{uuid.uuid4().hex}", f"metrics-test-{uuid.uuid4().hex}.poll")
    settings.CELERY_QUEUES_ALL = queues
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        broker.lpush(queues[0], "a", "b", "c")
        broker.lpush(f"{queues[0]}\x06\x166", "urgent")  # a message sent with a priority
        broker.lpush(queues[1], "d")

        samples = scrape(client)
    finally:
        broker.delete(queues[0], f"{queues[0]}\x06\x166", queues[1])

    assert samples[("multical_celery_queue_length", labels(queue=queues[0]))] == 4
    assert samples[("multical_celery_queue_length", labels(queue=queues[1]))] == 1


@pytest.mark.django_db
def test_the_sync_backlog_and_connections_needing_reconnect_are_read_from_the_database(client):
    now = timezone.now()
    waiting = [CalendarFactory(), CalendarFactory()]
    SyncState.objects.create(calendar=waiting[0], requested=2, pending_since=now)
    SyncState.objects.create(
        calendar=waiting[1], requested=1, pending_since=now - timedelta(seconds=95)
    )
    SyncState.objects.create(calendar=CalendarFactory(), requested=1, served=1)
    ConnectionFactory(status=Connection.Status.NEEDS_RECONNECT)
    ConnectionFactory(status=Connection.Status.NEEDS_RECONNECT, kind=Connection.Kind.GOOGLE)
    ConnectionFactory(status=Connection.Status.NEEDS_RECONNECT, kind=Connection.Kind.GOOGLE)
    ConnectionFactory(status=Connection.Status.ERROR)

    samples = scrape(client)

    assert samples[("multical_sync_requests_waiting", ())] == 2
    assert 95 <= samples[("multical_sync_oldest_waiting_seconds", ())] < 120
    assert samples[("multical_connections_needing_reconnect", labels(provider="caldav"))] == 1
    assert samples[("multical_connections_needing_reconnect", labels(provider="google"))] == 2


# --- What is instrumented here -------------------------------------------------------------------


@pytest.mark.django_db
def test_every_push_notification_answer_is_timed_refusals_included(client, settings):
    client.post("/hooks/google/")  # no headers: 400
    client.post("/hooks/microsoft/", data="{}", content_type="application/json")  # 400
    client.post("/hooks/microsoft/?validationToken=hello")  # Graph's handshake: 200

    samples = scrape(client)

    assert samples[("multical_webhook_answer_seconds_count", labels(provider="google"))] == 1
    assert samples[("multical_webhook_answer_seconds_count", labels(provider="microsoft"))] == 2


@pytest.mark.django_db
def test_a_booking_follow_up_counts_its_lag_from_the_booking(
    client, radicale_server, owner, run_tasks_inline
):
    Profile.objects.create(user=owner, handle="ada", display_name="Ada Host")
    booking = make_booking(make_world(radicale_server, owner, ["work"]), location="phone")
    type(booking).objects.filter(id=booking.id).update(
        updated_at=timezone.now() - timedelta(seconds=42)
    )

    with run_tasks_inline():
        booking_tasks.enqueue_follow_up(booking.id)

    samples = scrape(client)
    assert samples[("multical_booking_follow_up_lag_seconds_bucket", labels(le="30.0"))] == 0
    assert samples[("multical_booking_follow_up_lag_seconds_bucket", labels(le="60.0"))] == 1


@pytest.mark.django_db
def test_the_grafana_dashboard_draws_every_metric_the_endpoint_serves_and_no_other(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    served = {family.name for family in text_string_to_metric_families(response.content.decode())}
    dashboard = json.loads((settings.BASE_DIR / "ops" / "grafana" / "multical.json").read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]

    drawn = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for expr in expressions
        for name in re.findall(r"multical_\w+", expr)
    }

    assert drawn == served
