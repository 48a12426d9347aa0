"""`make demo` at the terminal: its options, and a banner that comes after the start-up noise."""

from __future__ import annotations

import io
import subprocess
from datetime import datetime

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from honcho.printer import Message

from multical.management.commands.demo import StartupPrinter
from multical.management.commands.runstack import stack_processes

BANNER = "=== Multical demo: open http://127.0.0.1:8000/ ==="

WEB_START = [
    b"Watching for file changes with StatReloader\n",
    b"Performing system checks...\n",
    b"System check identified no issues (0 silenced).\n",
    b"Django version 5.2, using settings 'multical.settings'\n",
    b"Starting development server at http://127.0.0.1:8000/\n",
    b"Quit the server with CONTROL-C.\n",
    b"\n",
]
WORKER_START = [
    b"[2026-12-06 11:44:05,449: INFO/MainProcess] Connected to redis://127.0.0.1:6379/0\n",
    b"[2026-12-06 11:44:05,452: INFO/MainProcess] mingle: searching for neighbors\n",
    b"[2026-12-06 11:44:06,466: INFO/MainProcess] mingle: all alone\n",
    b"[2026-12-06 11:44:06,485: INFO/MainProcess] celery@demo ready.\n",
]
BEAT_START = [b"[2026-12-06 11:44:04,744: INFO/MainProcess] beat: Starting...\n"]


def line(name: str, data: bytes) -> Message:
    return Message(type="line", data=data, time=datetime.now(), name=name, colour=None)


def printed(messages: list[Message]) -> list[str]:
    output = io.StringIO()
    printer = StartupPrinter(BANNER, output=output)
    for message in messages:
        printer.write(message)
    return output.getvalue().splitlines()


def test_the_banner_is_printed_once_web_workers_and_beat_have_reported_ready():
    messages = [
        *(line("beat", data) for data in BEAT_START),
        *(line("worker", data) for data in WORKER_START),
        *(line("poller", data) for data in WORKER_START),
        *(line("web", data) for data in WEB_START),
        line("web", b'[06/Dec/2026 11:45:00] "GET / HTTP/1.1" 200 5120\n'),
    ]

    lines = printed(messages)

    assert lines.count(BANNER) == 1
    assert lines.index(BANNER) == len(lines) - 2
    assert "Quit the server with CONTROL-C." in lines[lines.index(BANNER) - 1]


def test_no_banner_while_a_process_has_not_reported_ready():
    messages = [line("web", data) for data in WEB_START] + [
        line("beat", data) for data in BEAT_START
    ]

    assert BANNER not in printed(messages)


def test_worker_and_beat_keep_their_routine_lines_off_the_terminal_but_not_their_warnings():
    warning = b"[2026-12-06 11:50:00,000: WARNING/MainProcess] Calendar 12 needs reconnecting\n"
    error = b"[2026-12-06 11:50:01,000: ERROR/MainProcess] Task failed\n"
    traceback = b"Traceback (most recent call last):\n"

    lines = printed(
        [line("worker", data) for data in [*WORKER_START, warning, error, traceback]]
        + [line("beat", data) for data in BEAT_START]
    )

    assert not any("INFO/" in text for text in lines)
    assert any("Calendar 12 needs reconnecting" in text for text in lines)
    assert any("Task failed" in text for text in lines)
    assert any("Traceback" in text for text in lines)


def test_the_demo_stack_starts_worker_and_beat_without_their_banners():
    web, worker, poller, beat = stack_processes("127.0.0.1:8000", quiet=True)

    assert all("--quiet" in process.command for process in (worker, poller, beat))
    assert web.env["DJANGO_RUNSERVER_HIDE_WARNING"] == "true"


def test_make_demo_passes_the_radicale_port_to_the_demo():
    result = subprocess.run(
        ["make", "--dry-run", "demo", "RADICALE_PORT=5300", "ADDRPORT=127.0.0.1:8001"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "manage.py demo 127.0.0.1:8001 --radicale-port 5300" in result.stdout


@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_an_impossible_radicale_port_is_refused_with_a_message(port, settings, tmp_path):
    settings.VAR_DIR = tmp_path

    with pytest.raises(CommandError, match="radicale-port"):
        call_command("demo", "--radicale-port", port)
