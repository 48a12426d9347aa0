"""The public booking page as attendees meet it, on gunicorn with a real CalDAV server behind it.

Used by ``bench/slots.py``: page latency under concurrent clients with busy time cached (with and
without a session), and the
double-booking storm (many attendees submitting one time at once, round after round).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

PAGE_CLIENTS = 20
PAGE_REQUESTS = 1000
STORM_CLIENTS = 100
STORM_ROUNDS = 20
BUSY_EVENTS = 200


@contextmanager
def booking_site(folder: Path) -> Iterator[dict[str, Any]]:
    """A host with a Radicale calendar full of events, a page, and gunicorn serving the project
    (rate limits lifted: every client here comes from one address)."""

    from bench.harness import gunicorn_site
    from tests.booking.pages import make_host
    from tests.caldav_servers import RadicaleServer
    from tests.factories import UserFactory
    from tests.syncrules.world import event_ics

    radicale = RadicaleServer(folder)
    radicale.start()
    try:
        host = make_host(
            radicale,
            UserFactory(email="host@example.com"),
            weekly_hours={str(day): [[8 * 60, 18 * 60]] for day in range(1, 8)},
            increment=15,
        )
        first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for number in range(BUSY_EVENTS):
            start = first + timedelta(days=1 + number // 4, hours=9 + 2 * (number % 4))
            radicale.put_object(
                host.world.account,
                host.world.url("work"),
                f"busy-{number}.ics",
                event_ics(f"busy-{number}", start, minutes=45),
            )
        with gunicorn_site() as site:
            yield {"site": site, "host": host, "first_day": first.date()}
    finally:
        radicale.stop()


def page_latency(site: dict[str, Any]) -> list[str]:
    """The page as most attendees meet it (no session: whole pages kept a minute), then as
    visitors with a session do (an owner looking at their own page: rendered each time, from the
    rendered times and busy time kept in the cache)."""
    url = f"{site['site']}{site['host'].path}?tz=Europe/Berlin&clock=24"
    with httpx.Client() as warm:
        warm.get(url).raise_for_status()  # the busy time is read once, then cached
    return [
        _latency(url, "public page", {}),
        _latency(url, "  with a session (page rendered)", {"sessionid": "none"}),
    ]


def _latency(url: str, label: str, cookies: dict[str, str]) -> str:
    def client_session(_: int) -> list[float]:
        # One client = one browser: its own connection, kept alive between its page views.
        elapsed = []
        with httpx.Client(cookies=cookies) as client:
            for _ in range(PAGE_REQUESTS // PAGE_CLIENTS):
                started = time.perf_counter()
                client.get(url).raise_for_status()
                elapsed.append((time.perf_counter() - started) * 1000)
        return elapsed

    with ThreadPoolExecutor(PAGE_CLIENTS) as pool:
        times = sorted(
            t for session in pool.map(client_session, range(PAGE_CLIENTS)) for t in session
        )
    p95 = times[int(len(times) * 0.95) - 1]
    return (
        f"{label}, {PAGE_CLIENTS} concurrent clients, {PAGE_REQUESTS} requests: "
        f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (target p95 <= 150 ms)"
    )


def storm(site: dict[str, Any]) -> list[str]:
    """Each round, every client loads the form for the same time, then all submit together."""
    from booking.models import Booking
    from booking.public_display import format_start

    host = site["host"]
    winners: list[int] = []
    durations: list[float] = []
    for round_number in range(STORM_ROUNDS):
        # A different free time each round (the busy events sit at 09:00, 11:00, 13:00, 15:00).
        day = site["first_day"] + timedelta(days=1 + round_number)
        start = datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)
        form_url = f"{site['site']}{host.path}new/?tz=UTC&duration=30&start={format_start(start)}"
        clients = [httpx.Client(timeout=60) for _ in range(STORM_CLIENTS)]
        try:
            forms = [_form(client, form_url, number) for number, client in enumerate(clients)]
            barrier = threading.Barrier(STORM_CLIENTS)

            def submit(
                pair: tuple[httpx.Client, dict[str, str]],
                barrier: threading.Barrier = barrier,
                form_url: str = form_url,
            ) -> int:
                client, data = pair
                barrier.wait()
                return client.post(form_url, data=data).status_code

            started = time.perf_counter()
            with ThreadPoolExecutor(STORM_CLIENTS) as pool:
                list(pool.map(submit, zip(clients, forms, strict=True)))
            durations.append(time.perf_counter() - started)
        finally:
            for client in clients:
                client.close()
        winners.append(
            Booking.objects.filter(
                owner=host.page.owner, start=start, status=Booking.Status.CONFIRMED
            ).count()
        )
    exact = sum(1 for count in winners if count == 1)
    return [
        f"double-booking storm, {STORM_CLIENTS} concurrent submissions x {STORM_ROUNDS} rounds: "
        f"exactly one winner in {exact} of {STORM_ROUNDS} rounds (winners per round: "
        f"{sorted(set(winners))}); a round took {statistics.median(durations):.2f} s median"
    ]


def _form(client: httpx.Client, url: str, number: int) -> dict[str, str]:
    page = client.get(url)
    page.raise_for_status()
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    return {**hidden, "name": f"Attendee {number}", "email": f"a{number}@example.com"}
