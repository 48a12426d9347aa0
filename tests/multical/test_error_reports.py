"""Error reports (Sentry) arrive, and carry no event content and no secret.

The real SDK, set up as ``SENTRY_DSN`` sets it up (``multical.logging.error_reports_init``), sends
to a fake ingestion endpoint on loopback; the tests read the envelopes as they arrived.
"""

from __future__ import annotations

import logging

import pytest
import sentry_sdk

from integrations.caldav import provider as caldav_provider
from multical.logging import error_reports_init, scrub_event
from syncrules.tasks import enqueue_calendar_sync
from tests.multical.fake_sentry import FakeSentry
from tests.syncrules.world import make_world, soon

MARKERS = ["PLANTED-TITLE-a41c", "PLANTED-DESC-0b9e", "PLANTED-PLACE-7f2d"]


@pytest.fixture
def error_reports(fake_sentry: FakeSentry):
    error_reports_init(dsn=fake_sentry.dsn, environment="test")
    yield fake_sentry
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def sent(fake: FakeSentry) -> bytes:
    sentry_sdk.flush(timeout=10)
    return b"\n".join(fake.payloads)


@pytest.mark.django_db
def test_a_sync_failing_on_planted_content_is_reported_without_it(
    error_reports, radicale_server, owner, run_tasks_inline, monkeypatch
):
    world = make_world(radicale_server, owner, ["Personal", "Work"])
    world.rule(["Personal"], ["Work"], visibility="full", show_location=True)
    world.plant("Personal", MARKERS, soon(2, 10))

    # The block's serializer fails the way iCalendar libraries fail: quoting the values it holds.
    def failing_render(spec, *, uid):
        raise ValueError(f"cannot render {spec.title!r} {spec.description!r} {spec.location!r}")

    monkeypatch.setattr(caldav_provider, "render_block", failing_render)
    with pytest.raises(ValueError) as raised, run_tasks_inline():
        enqueue_calendar_sync(world.calendars["Personal"].id)

    assert MARKERS[0] in str(raised.value)  # the failure did carry the content
    payload = sent(error_reports)
    (event,) = error_reports.events
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert any(frame["function"] == "sync_calendar" for frame in exception["stacktrace"]["frames"])
    assert event["transaction"] == "syncrules.tasks.sync_calendar"
    for marker in MARKERS:
        assert marker.encode() not in payload, marker
    assert str(world.calendars["Personal"].id).encode() not in payload  # nor the task's arguments


@pytest.mark.django_db
def test_log_records_are_reported_by_their_template_never_their_arguments(error_reports):
    logger = logging.getLogger("syncrules.engine")

    logger.info("Read %s from the source", MARKERS[0])  # a breadcrumb
    logger.error("Could not copy %s", MARKERS[1])  # an event of its own
    try:
        raise ValueError(f"unreadable line SUMMARY:{MARKERS[2]}")
    except ValueError:
        logger.exception("Sync failed on %s", MARKERS[0])

    payload = sent(error_reports)
    templates = [event["logentry"]["message"] for event in error_reports.events]
    assert templates == ["Could not copy %s", "Sync failed on %s"]
    crumbs = [crumb.get("message") for crumb in error_reports.events[-1]["breadcrumbs"]["values"]]
    assert "Read %s from the source" in crumbs
    assert error_reports.events[-1]["exception"]["values"][0]["type"] == "ValueError"
    for marker in MARKERS:
        assert marker.encode() not in payload, marker


def test_a_request_is_reported_by_its_method_and_its_redacted_path_only():
    event = {
        "level": "error",
        "request": {
            "method": "POST",
            "url": "https://cal.example.com/bookings/1b2c/secret-manage-token/",
            "query_string": "token=abc",
            "headers": {"Cookie": "sessionid=s3cr3t", "User-Agent": "x"},
            "data": {"answer": MARKERS[0]},
            "cookies": {"sessionid": "s3cr3t"},
        },
        "extra": {"celery-job": {"args": ["id"], "kwargs": {}}},
        "user": {"ip_address": "192.0.2.1"},
        "contexts": {"runtime": {"name": "CPython"}, "celery": {"args": ["x"]}},
    }

    scrubbed = scrub_event(event, {})

    assert scrubbed["request"] == {
        "method": "POST",
        "url": "https://cal.example.com/bookings/1b2c/[redacted]/",
    }
    assert "extra" not in scrubbed and "user" not in scrubbed
    assert scrubbed["contexts"] == {"runtime": {"name": "CPython"}}
