"""`make run`: the web server, a worker and beat, and the address the links they make lead to."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import User
from booking.models import BookingPage, Profile
from multical.management.commands.runstack import site_url, stack_processes
from tests.factories import DEFAULT_PASSWORD

DEVELOPMENT = {"DJANGO_SETTINGS_MODULE": "multical.settings", "MULTICAL_ENV": "development"}


@pytest.fixture(autouse=True)
def no_site_url_in_the_environment(monkeypatch):
    monkeypatch.delenv("SITE_URL", raising=False)


@pytest.mark.parametrize(
    ("addrport", "expected"),
    [
        ("8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("0:8080", "http://127.0.0.1:8080"),
        ("[::]:8080", "http://[::1]:8080"),
        ("[::1]:8001", "http://[::1]:8001"),
        ("192.168.1.20:8000", "http://192.168.1.20:8000"),
        ("Calendar.Test:9000", "http://calendar.test:9000"),
    ],
)
def test_the_site_address_is_where_a_browser_here_reaches_the_server(addrport, expected):
    assert site_url(addrport) == expected


@pytest.mark.parametrize(
    "addrport",
    ["", "localhost", "host:", "127.0.0.1:0", "127.0.0.1:70000", "300.1.1.1:80", "[::x]:80"],
)
def test_an_address_runserver_would_refuse_is_refused_with_a_message(addrport):
    with pytest.raises(CommandError, match="is not a port or an address:port pair"):
        site_url(addrport)


def test_every_process_of_the_stack_is_told_the_address_it_was_started_on():
    processes = stack_processes("0.0.0.0:8080")

    assert [process.name for process in processes] == ["web", "worker", "poller", "beat"]
    assert {process.env["SITE_URL"] for process in processes} == {"http://127.0.0.1:8080"}
    assert processes[0].command[-2:] == ["runserver", "0.0.0.0:8080"]


def test_a_site_address_set_in_the_environment_is_kept(monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://calendar.example.com")

    processes = stack_processes("0.0.0.0:8080")

    assert {process.env["SITE_URL"] for process in processes} == {"https://calendar.example.com"}


def run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**env, **DEVELOPMENT},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_site_host_is_an_allowed_host_in_development():
    code = "import django; django.setup(); from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    env = {**os.environ, "SITE_URL": "http://calendar.test:9000"}

    assert "'calendar.test'" in run_python(code, env)


def test_the_worker_writes_booking_manage_links_at_the_address_the_stack_was_started_on():
    worker = next(process for process in stack_processes("9000") if process.name == "worker")
    code = (
        "import django, uuid; django.setup(); from booking.models import Booking; "
        "from booking.tokens import manage_url; "
        f"print(manage_url(Booking(id=uuid.UUID({str(uuid.uuid4())!r}))))"
    )

    assert run_python(code, worker.env).startswith("http://127.0.0.1:9000/bookings/")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web_server(transactional_db, tmp_path):
    """The stack's web process, as `make run ADDRPORT=<port>` starts it, on the test database."""
    port = free_port()
    web = next(process for process in stack_processes(str(port)) if process.name == "web")
    database = urlsplit(settings.DATABASE_URL)._replace(path=f"/{connection.settings_dict['NAME']}")
    env = {**web.env, **DEVELOPMENT, "DATABASE_URL": database.geturl(), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "web.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            web.command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.get("/health/")
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                pytest.fail(f"The web server did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
    yield client, port, log_path
    client.close()
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def post_form(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    client.get(path)
    token = {"csrfmiddlewaretoken": client.cookies["csrftoken"]}
    return client.post(path, data={**data, **token})


def test_links_from_a_server_started_on_another_port_lead_back_to_it(web_server, owner):
    client, port, log_path = web_server
    here = f"http://127.0.0.1:{port}/"

    signed_up = post_form(
        client,
        "/accounts/signup/",
        {
            "email": "new@example.com",
            "password": "a long and unusual passphrase",
            "accept_legal": "on",
        },
    )
    assert signed_up.status_code == 302
    verify = re.search(r"http://\S+/accounts/verify/\S+/", log_path.read_text())
    assert verify is not None and verify.group().startswith(here)
    assert client.get(verify.group(), follow_redirects=True).status_code == 200
    assert User.objects.get(email="new@example.com").email_verified

    client.cookies.clear()
    profile = Profile.objects.create(user=owner, handle="ada", display_name="Ada")
    page = BookingPage.objects.create(
        owner=owner, title="Intro call", slug="intro", listed=True, durations=[30]
    )
    post_form(client, "/accounts/login/", {"username": owner.email, "password": DEFAULT_PASSWORD})
    listing = client.get("/booking/").text
    assert f"{here}book/{profile.handle}/{page.public_slug}/" in listing
    assert client.get(f"{here}book/{profile.handle}/{page.public_slug}/").status_code == 200
