"""A public team page as attendees meet it: gunicorn (three sync workers, as the Dockerfile runs
it), PostgreSQL, Redis, and a Radicale server holding each member's calendar full of events.

Prints the p50 and p95 of a round-robin and a collective page of three members, and of the
organization's list of pages, under 20 concurrent clients (1,000 requests each; target p95 <=
150 ms), with the members' busy time and the rendered month kept in the cache as between the
visits of real attendees (the first visit reads the calendars). A member's personal page is
measured the same way last, as the reference on the same machine at the same time.

    DATABASE_URL=postgres://... .venv/bin/python bench/team_page.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENTS = 20
REQUESTS = 1000
MEMBERS = 3
BUSY_EVENTS = 200  # per member
TARGET_P95_MS = 150.0


@contextmanager
def team_site(folder: Path) -> Iterator[dict[str, Any]]:
    from bench.harness import gunicorn_site
    from booking.models import BookingPage, TeamPage
    from tests.booking.team_world import make_team
    from tests.caldav_servers import RadicaleServer
    from tests.syncrules.world import event_ics

    radicale = RadicaleServer(folder)
    radicale.start()
    try:
        team = make_team(radicale, size=MEMBERS)
        hours = {str(day): [[8 * 60, 18 * 60]] for day in range(1, 8)}
        pages = {
            "round-robin": team.page(weekly_hours=hours, increment=15),
            "collective": team.page(TeamPage.Kind.COLLECTIVE, weekly_hours=hours, increment=15),
        }
        BookingPage.objects.create(
            owner=team.users[0],
            title="Intro call",
            slug="intro",
            listed=True,
            durations=[30],
            time_zone="UTC",
            weekly_hours=hours,
            increment=15,
            minimum_notice=0,
            write_calendar=team.worlds[team.users[0].id].calendars["work"],
        )
        first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for index, user in enumerate(team.users):
            world = team.worlds[user.id]
            for number in range(BUSY_EVENTS):
                start = first + timedelta(days=1 + number // 4, hours=9 + 2 * (number % 4) + index)
                radicale.put_object(
                    world.account,
                    world.url("work"),
                    f"busy-{number}.ics",
                    event_ics(f"busy-{number}", start, minutes=45),
                )
        with gunicorn_site() as site:
            yield {"site": site, "pages": pages}
    finally:
        radicale.stop()


def latency(url: str, label: str) -> str:
    with httpx.Client(timeout=60) as warm:
        warm.get(url).raise_for_status()  # the calendars are read once, then cached

    def client_session(_: int) -> list[float]:
        # One client = one browser: its own connection, kept alive between its page views.
        elapsed = []
        with httpx.Client(timeout=60) as client:
            for _ in range(REQUESTS // CLIENTS):
                started = time.perf_counter()
                client.get(url).raise_for_status()
                elapsed.append((time.perf_counter() - started) * 1000)
        return elapsed

    with ThreadPoolExecutor(CLIENTS) as pool:
        times = sorted(t for session in pool.map(client_session, range(CLIENTS)) for t in session)
    p95 = statistics.quantiles(times, n=20)[-1]
    verdict = "ok" if p95 <= TARGET_P95_MS else "ABOVE TARGET"
    return (
        f"{label}, {CLIENTS} concurrent clients, {len(times)} requests: "
        f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
        f"(target p95 <= {TARGET_P95_MS:.0f} ms: {verdict})"
    )


def main() -> None:
    from bench.harness import throwaway_database

    with (
        throwaway_database(name="multical_bench_team_page"),
        tempfile.TemporaryDirectory() as folder,
        team_site(Path(folder)) as site,
    ):
        print(
            f"public team pages: {MEMBERS} members x {BUSY_EVENTS} busy events on Radicale, "
            "gunicorn with 3 workers",
            flush=True,
        )
        for kind, page in site["pages"].items():
            url = f"{site['site']}/book/acme/{page.slug}/?tz=Europe/Berlin&clock=24"
            print(latency(url, f"  {kind} team page"), flush=True)
        print(latency(f"{site['site']}/book/acme/", "  the organization's list"), flush=True)
        personal = f"{site['site']}/book/acme-person0/intro/?tz=Europe/Berlin&clock=24"
        print(latency(personal, "  reference: a member's personal page"), flush=True)


if __name__ == "__main__":
    main()
