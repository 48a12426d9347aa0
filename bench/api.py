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

    with ThreadPoolExecutor(clients) as pool:
        times = sorted(t for run in pool.map(client_session, range(clients)) for t in run)
    p95 = times[int(len(times) * 0.95) - 1]
    return (
        f"{label}, {clients} concurrent client{'s' if clients > 1 else ''}, {len(times)} requests: "
        f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (target p95 <= {target_ms:.0f} ms)"
    )


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
