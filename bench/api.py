"""The REST API under load, on gunicorn with a real CalDAV server behind the booking page.

    .venv/bin/python bench/api.py

- Listing bookings: ``GET /api/v1/bookings?limit=100`` for a host with 300 bookings, from 20
  concurrent clients, each with its own connection and the same key (1,000 requests).
  Target: p95 <= 50 ms.
- A page's open times over 30 days: ``GET /api/v1/pages/{id}/slots`` for the host's page, whose
  Radicale calendar holds 200 events (busy time cached after the first read, as on the public
  page), from 20 concurrent clients (1,000 requests). Target: p95 <= 100 ms.
Both run on gunicorn with three sync workers, as the Dockerfile runs it; each is measured with
one client first (the time one request takes), then with 20 (the time with the CPUs shared).
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLIENTS = 20
REQUESTS = 1000
BOOKINGS = 300


def _latency(url: str, token: str, label: str, target_ms: float, clients: int = CLIENTS) -> str:
    headers = {"Authorization": f"Bearer {token}"}

    def client_session(_: int) -> list[float]:
        elapsed = []
        with httpx.Client(headers=headers, timeout=30) as client:
            for _ in range(REQUESTS // clients):
                started = time.perf_counter()
                client.get(url).raise_for_status()
                elapsed.append((time.perf_counter() - started) * 1000)
        return elapsed

    busy, ours, parts = _machine_busy(), resource.getrusage(resource.RUSAGE_SELF), _by_process()
    with ThreadPoolExecutor(clients) as pool:
        times = sorted(t for run in pool.map(client_session, range(clients)) for t in run)
    machine = (_machine_busy() - busy) / len(times) * 1000
    after = resource.getrusage(resource.RUSAGE_SELF)
    client = (after.ru_utime + after.ru_stime - ours.ru_utime - ours.ru_stime) / len(times) * 1000
    spent = {
        name: (seconds - parts.get(name, 0.0)) / len(times) * 1000
        for name, seconds in _by_process().items()
    }
    p95 = times[int(len(times) * 0.95) - 1]
    return (
        f"{label}, {clients} concurrent client{'s' if clients > 1 else ''}, {len(times)} requests: "
        f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (target p95 <= {target_ms:.0f} ms); "
        f"CPU per request: {machine:.1f} ms on the machine: clients {client:.1f}, "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(spent.items()))
    )


def _by_process() -> dict[str, float]:
    """CPU seconds spent so far by the web server's processes, PostgreSQL's and Redis'."""
    spent: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = (
            "gunicorn"
            if "gunicorn" in command
            else "postgres"
            if command.startswith("postgres")
            else "redis"
            if "redis-server" in command
            else None
        )
        if name is not None:
            spent[name] = spent.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return spent


def _machine_busy() -> float:
    """Seconds every CPU of the machine has spent busy since boot (``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and waiting for I/O
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _bookings(host: object) -> None:
    from booking.models import Booking

    page = host.page  # type: ignore[attr-defined]
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=40)
    Booking.objects.bulk_create(
        Booking(
            owner=page.owner,
            page=page,
            title=page.title,
            start=first + timedelta(hours=3 * number),
            end=first + timedelta(hours=3 * number, minutes=30),
            attendee_name=f"Attendee {number}",
            attendee_email=f"attendee{number}@example.com",
            answers=[],
            location=page.location,
            submission_key=f"bench-{number}",
            notified_sequence=0,
        )
        for number in range(BOOKINGS)
    )


def main() -> None:
    # Every request comes from one address and one key: no limit may be what is measured.
    os.environ["API_KEY_RATE"] = "1000000/m"
    from bench.booking_web import booking_site
    from bench.harness import throwaway_database

    with (
        tempfile.TemporaryDirectory() as folder,
        throwaway_database(),
        booking_site(Path(folder)) as site,
    ):
        from api.scopes import Scope
        from api.services import api_key_create

        host = site["host"]
        _bookings(host)
        _key, token = api_key_create(
            user=host.page.owner,
            name="bench",
            scopes=[Scope.BOOKINGS_READ, Scope.PAGES_READ],
            expires_at=None,
            ip_address=None,
        )
        base = f"{site['site']}/api/v1"
        first = datetime.now(UTC).date() + timedelta(days=1)
        slots = (
            f"{base}/pages/{host.page.id}/slots?start={first}&end={first + timedelta(days=29)}"
            "&time_zone=Europe/Berlin"
        )
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as warm:
            listed = warm.get(f"{base}/bookings?limit=100").raise_for_status().json()
            offered = warm.get(slots).raise_for_status().json()
        print(
            f"(a page of {len(listed['items'])} bookings; {len(offered['slots'])} open times "
            "over 30 days)",
            flush=True,
        )
        for clients in (1, CLIENTS):
            print(
                _latency(f"{base}/bookings?limit=100", token, "list 100 bookings", 50, clients),
                flush=True,
            )
            print(
                _latency(slots, token, "a page's open times over 30 days", 100, clients),
                flush=True,
            )


if __name__ == "__main__":
    main()
