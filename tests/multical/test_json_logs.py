"""LOG_FORMAT=json: one JSON object per line, with the request or task it belongs to, redacted as
the plain lines are, and (the privacy scan) never a word of the events a failing sync handled."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from multical.celery import app
from multical.logging import logging_config
from syncrules.models import Block
from syncrules.tasks import enqueue_calendar_sync
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.syncrules.world import make_world, soon

MARKERS = ["PLANTED-TITLE-e5a0", "PLANTED-DESC-91cb", "PLANTED-PLACE-3d77", "planted-guest-b2f4"]


@app.task(name="tests.multical.test_json_logs.log_from_a_task")
def log_from_a_task() -> None:
    logging.getLogger("syncrules.tasks").info("inside the task")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The installed configuration with LOG_FORMAT=json, writing into a buffer."""
    logging.config.dictConfig(logging_config(level="INFO", log_format="json"))
    buffer = io.StringIO()
    (handler,) = logging.getLogger().handlers
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        logging.config.dictConfig(settings.LOGGING)


def entries(buffer: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_record_is_one_json_object_on_one_line(json_lines):
    logging.getLogger("calendars.push").warning("Renewed %s channels\nof %s", 3, "google")
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("syncrules.engine").exception("Sync failed")

    first, second = entries(json_lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "WARNING"
    assert first["logger"] == "calendars.push"
    assert first["message"] == "Renewed 3 channels\nof google"
    assert first["time"].endswith("+00:00")
    assert (
        second["exception"].startswith("Traceback") and "ValueError: broken" in second["exception"]
    )


def test_a_secret_in_a_logged_path_is_redacted_as_in_plain_lines(json_lines):
    logging.getLogger("django.request").warning(
        "Not Found: %s", "/bookings/b7c1/s3cret-manage-token/?code=0auth-c0de"
    )

    (entry,) = entries(json_lines)
    assert entry["message"] == "Not Found: /bookings/b7c1/[redacted]/?code=[redacted]"


@pytest.mark.django_db
def test_the_lines_of_a_request_carry_its_id_and_the_response_returns_it(json_lines, client):
    response = client.get("/metrics", HTTP_X_REQUEST_ID="proxy-given-1234")  # a 404, logged

    (entry,) = [entry for entry in entries(json_lines) if entry["logger"] == "django.request"]
    assert entry["request_id"] == "proxy-given-1234"
    assert response["X-Request-ID"] == "proxy-given-1234"


@pytest.mark.django_db
def test_a_request_id_of_another_shape_is_replaced_by_one_of_ours(json_lines, client):
    response = client.get("/metrics", HTTP_X_REQUEST_ID="<script>alert(1)</script>")

    (entry,) = [entry for entry in entries(json_lines) if entry["logger"] == "django.request"]
    assert entry["request_id"] == response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"].isalnum()


def test_the_lines_of_a_task_carry_its_id(json_lines):
    result = log_from_a_task.apply()

    (entry,) = [entry for entry in entries(json_lines) if entry["message"] == "inside the task"]
    assert entry["task_id"] == result.id
    assert "request_id" not in entry


def test_an_unknown_format_is_refused_at_start_up():
    with pytest.raises(ValueError, match="Unknown log format 'xml'"):
        logging_config(level="INFO", log_format="xml")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_json_logging_worker_never_writes_the_content_of_a_failing_sync(
    radicale_server, owner, fault_proxy, tmp_path
):
    world = make_world(
        radicale_server, owner, ["Work", "Personal", "Clients"], server_url=fault_proxy.url
    )
    world.rule(["Personal"], ["Work"], visibility="full", show_location=True)
    world.rule(["Personal"], ["Clients"])
    world.plant("Personal", MARKERS, soon(2, 10))
    log_path = tmp_path / "worker.log"
    worker = start_celery_worker(
        log_path,
        connection.settings_dict["NAME"],
        env={"LOG_FORMAT": "json"},
    )
    try:
        enqueue_calendar_sync(world.calendars["Personal"].id)
        deadline = time.monotonic() + 60
        while Block.objects.filter(state=Block.State.SYNCED).count() < 2:
            assert time.monotonic() < deadline, "the worker did not sync"
            time.sleep(0.2)
        # The event changes, and the targets refuse every write: the sync fails, to be retried.
        world.put(
            "Personal", "planted", soon(3, 10), title=MARKERS[0] + " moved", description=MARKERS[1]
        )
        writes_before = fault_proxy.seen["PUT"]
        fault_proxy.fault = lambda method, path, count: 503 if method == "PUT" else None
        enqueue_calendar_sync(world.calendars["Personal"].id)
        deadline = time.monotonic() + 60
        while fault_proxy.seen["PUT"] == writes_before or "retry" not in log_path.read_text():
            assert time.monotonic() < deadline, "the worker did not fail to write"
            time.sleep(0.2)
    finally:
        stop_celery_worker(worker)

    text = log_path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert MARKERS[0] in str(world.blocks("Work")[0]["SUMMARY"])  # the content did travel
    assert any(record.get("task_id") for record in records), "no line of a task was written"
    for marker in MARKERS:
        assert marker not in text, marker
