"""The first read of a large CalDAV calendar: our CPU per instance, wall time and requests.

    .venv/bin/python bench/caldav_first_read.py [--sizes 5000,20000] [--hold-ms 2000] [--profile]

Starts Radicale on loopback with one calendar per size written straight into its storage, a mix
as people's calendars hold it: most events single and timed (a third in a named zone with its
VTIMEZONE), some all-day, some weekly and daily series with a cancelled and a moved instance, a
few with many attendees and a long description. Each calendar is then read as the sync engine
reads it the first time: ``CalDAVProvider.changes`` with no cursor, over a 90-day window, with a
provider built from secrets as a sync task builds it. Printed per size: instances in the window,
requests, the largest request's wall time, the whole read's wall time, and our CPU
(``time.process_time`` of this process: the server's work is not counted) per instance.

``--hold-ms N`` reads every calendar again behind ``latency_proxy.py``, which answers each
request N ms after it arrived at the earliest (a slow server): a read fails when one answer takes
longer than the fetch timeout. ``--profile`` prints where our CPU went in the first read of the
largest size (cProfile, the top functions by their own time). ``--trace`` prints every request of
each read: its method, what it asked (the body's root element, and a listing's time range), its
wall time and how it ended.
No database: Django is configured with the two settings the outbound check reads.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

settings.configure(OUTBOUND_ALLOW_LOOPBACK=True, OUTBOUND_ALLOWED_NETWORKS=[])

from bench.harness import radicale_with_calendars, warm_up  # noqa: E402
from bench.latency_proxy import LatencyProxy  # noqa: E402
from integrations.base import ProviderError, Window  # noqa: E402
from integrations.caldav import client as dav  # noqa: E402
from integrations.caldav.provider import CalDAVProvider  # noqa: E402
from tests.caldav_servers import Account  # noqa: E402

USER, PASSWORD = "bench", "bench-password"
# The window a rule with a 90-day lookahead reads, starting on a Monday.
WINDOW = Window(datetime(2030, 1, 7, tzinfo=UTC), datetime(2030, 4, 7, tzinfo=UTC))
BERLIN = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
LONG_TEXT = "Agenda: " + "review the figures, agree the next steps and who owns them; " * 30


def event_text(number: int) -> str:
    """Object ``number`` of a calendar: its kind follows from the number (see the docstring)."""
    day = WINDOW.start + timedelta(days=(number * 7) % 88)
    start = day + timedelta(hours=7 + number % 10, minutes=15 * (number % 4))
    kind = number % 50
    zone = ""
    lines = [f"UID:first-read-{number}@bench.example", "DTSTAMP:20291201T090000Z"]
    if kind in (0, 1, 2):  # all-day
        lines += [
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
        ]
        lines += [f"SUMMARY:Away {number}", "TRANSP:TRANSPARENT"]
        body = "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"
    elif kind in (3, 4, 5, 6):  # weekly series with a cancelled and a moved instance
        zone = BERLIN
        local = f"{start:%Y%m%dT%H%M%S}"
        lines += [
            f"DTSTART;TZID=Europe/Berlin:{local}",
            f"DTEND;TZID=Europe/Berlin:{start + timedelta(hours=1):%Y%m%dT%H%M%S}",
            "RRULE:FREQ=WEEKLY;COUNT=20" if kind % 2 else "RRULE:FREQ=WEEKLY",
            f"EXDATE;TZID=Europe/Berlin:{start + timedelta(weeks=2):%Y%m%dT%H%M%S}",
            f"SUMMARY:Weekly {number}",
            "LOCATION:Room 4",
        ]
        moved = start + timedelta(weeks=3)
        body = (
            "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"
            "BEGIN:VEVENT\r\n"
            f"UID:first-read-{number}@bench.example\r\nDTSTAMP:20291201T090000Z\r\n"
            f"RECURRENCE-ID;TZID=Europe/Berlin:{moved:%Y%m%dT%H%M%S}\r\n"
            f"DTSTART;TZID=Europe/Berlin:{moved + timedelta(hours=2):%Y%m%dT%H%M%S}\r\n"
            f"DTEND;TZID=Europe/Berlin:{moved + timedelta(hours=3):%Y%m%dT%H%M%S}\r\n"
            f"SUMMARY:Weekly {number} (moved)\r\nSEQUENCE:1\r\nEND:VEVENT\r\n"
        )
    elif kind == 7:  # daily stand-up on weekdays, one cancelled
        lines += [
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{start + timedelta(minutes=15):%Y%m%dT%H%M%SZ}",
            "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=30",
            f"EXDATE:{start + timedelta(days=1):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Stand-up {number}",
        ]
        body = "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"
    else:  # a single timed event; one in three in a named zone, one in 25 a large meeting
        if kind % 3 == 0:
            zone = BERLIN
            lines += [
                f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
                f"DTEND;TZID=Europe/Berlin:{start + timedelta(minutes=45):%Y%m%dT%H%M%S}",
            ]
        else:
            lines += [
                f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
                f"DTEND:{start + timedelta(minutes=30):%Y%m%dT%H%M%SZ}",
            ]
        lines += [f"SUMMARY:Meeting {number}", f"LOCATION:Room {number % 40}"]
        if kind in (10, 35):
            lines += [
                "ORGANIZER;CN=Organiser:mailto:organiser@bench.example",
                *(
                    f"ATTENDEE;CN=Person {n};PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:"
                    f"mailto:person-{n}@bench.example"
                    for n in range(40)
                ),
                "DESCRIPTION:" + LONG_TEXT,
                "URL:https://meet.bench.example/room-" + str(number),
            ]
        body = (
            "BEGIN:VEVENT\r\n" + "\r\n".join(_fold(line) for line in lines) + "\r\nEND:VEVENT\r\n"
        )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//first read//EN\r\n"
        f"{zone}{body}END:VCALENDAR\r\n"
    )


def _fold(line: str) -> str:
    return "\r\n ".join(line[i : i + 74] for i in range(0, len(line), 74))


def write_calendar(storage: Path, name: str, size: int) -> None:
    """Radicale's layout: a folder per collection, its properties in .Radicale.props, one .ics per item."""
    folder = storage / "collection-root" / USER / name
    folder.mkdir(parents=True)
    (folder / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR", "D:displayname": name}))
    for number in range(size):
        (folder / f"event-{number}.ics").write_text(event_text(number))


class _Requests:
    """Times each of the provider's HTTP exchanges (wall time, from sending to the whole answer)."""

    times: list[float] = []
    trace: list[str] = []

    @classmethod
    def install(cls) -> None:
        send = dav.DAVSession._send

        def timed_send(session, method, url, data, headers):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            outcome = "failed"
            try:
                response = send(session, method, url, data, headers)
                outcome = str(response.status)
                return response
            except ProviderError as error:
                outcome = error.message
                raise
            finally:
                cls.times.append(time.perf_counter() - started)
                cls.trace.append(f"{method} {_asked(data)}: {cls.times[-1]:.2f} s, {outcome}")

        dav.DAVSession._send = timed_send  # type: ignore[method-assign]


def _asked(body: bytes) -> str:
    """The request body's root element, and a listing's time range (no content: ours)."""
    root = re.search(rb"<\w+:([\w-]+) ", body)
    span = re.search(rb'start="(\w+)" end="(\w+)"', body)
    hrefs = body.count(b"<d:href>")
    return (
        (root.group(1).decode() if root else "-")
        + (f" {span.group(1).decode()}..{span.group(2).decode()}" if span else "")
        + (f" ({hrefs} objects)" if hrefs else "")
    )


@dataclass
class Read:
    instances: int
    requests: int
    cpu_s: float
    wall_s: float
    largest_request_s: float
    error: str = ""

    def describe(self, size: int) -> str:
        outcome = f"FAILED ({self.error}) after" if self.error else f"{self.instances:,} instances,"
        per_instance = self.cpu_s * 1000 / self.instances if self.instances else 0.0
        return (
            f"{size:>6,} events: {outcome} {self.requests} requests (largest {self.largest_request_s:.1f} s), "
            f"{self.wall_s:.1f} s wall, {self.cpu_s:.2f} s CPU"
            + (f" = {per_instance:.3f} ms per instance" if self.instances else "")
        )


def first_read(
    account: Account, url: str, profile: cProfile.Profile | None = None, *, patient: bool = False
) -> Read:
    """One first read with a fresh provider, as a sync task makes it (collector as in a worker).
    ``patient``: every wait on the server, and every whole answer, may take 15 minutes instead of
    the fetch timeout and deadline, so that our CPU is measured even where the read would fail."""
    gc.collect()
    _Requests.times = []
    _Requests.trace = []
    provider = CalDAVProvider.from_secrets(account.secrets)
    timeout, dav.TIMEOUT = dav.TIMEOUT, 900 if patient else dav.TIMEOUT
    deadline, dav.DEADLINE = dav.DEADLINE, 900 if patient else dav.DEADLINE
    wall = time.perf_counter()
    started = time.process_time()
    instances, error = 0, ""
    try:
        if profile is not None:
            profile.enable()
        try:
            instances = len(provider.changes(url, "", WINDOW).events)
        finally:
            if profile is not None:
                profile.disable()
    except ProviderError as failure:
        error = str(failure)
    cpu = time.process_time() - started
    wall = time.perf_counter() - wall
    dav.DEADLINE, dav.TIMEOUT = deadline, timeout
    requests = provider.request_count
    provider.close()
    return Read(instances, requests, cpu, wall, max(_Requests.times, default=0.0), error)


def retry(account: Account, url: str, size: int, attempts: int = 4) -> None:
    """Read again as the sync task would after a failure (without its backoff's wait): each
    timeout has doubled the collection's patience (``integrations.caldav.sync.patience``)."""
    for attempt in range(2, attempts + 2):
        read = first_read(account, url)
        print(f"    attempt {attempt}: " + read.describe(size))
        if not read.error:
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", default="5000,20000", help="events per calendar, comma-separated"
    )
    parser.add_argument(
        "--hold-ms", type=int, default=0, help="read again with every answer held this long"
    )
    parser.add_argument("--profile", action="store_true", help="profile the largest first read")
    parser.add_argument("--trace", action="store_true", help="print every request of each read")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    _Requests.install()

    with radicale_with_calendars(
        prefix="caldav-first-read-", user=USER, password=PASSWORD, sizes=sizes, write=write_calendar
    ) as (server, written):
        urls = {size: f"{server.url}{USER}/events-{size}/" for size in sizes}
        account = Account(server.url, USER, PASSWORD)
        began = time.monotonic()
        for url in urls.values():
            warm_up(server, account, url)
        print(
            f"Radicale on {server.url}: {sum(sizes):,} events written and indexed in "
            f"{written + time.monotonic() - began:.1f} s; window {WINDOW.start:%Y-%m-%d} to {WINDOW.end:%Y-%m-%d}; "
            f"fetch timeout {dav.TIMEOUT} s per wait"
        )
        # The first read of a small calendar imports (and compiles) the modules on the way,
        # as a running worker has.
        write_calendar(server.storage, "warm-up", 20)
        first_read(account, f"{server.url}{USER}/warm-up/")
        print("first read, Radicale directly (our CPU: this process only):")
        for size in sizes:
            read = first_read(account, urls[size])
            print("  " + read.describe(size))
            if arguments.trace:
                print("".join(f"      {line}\n" for line in _Requests.trace), end="")
            if read.error:
                retry(account, urls[size], size)
                patient = first_read(account, urls[size], patient=True)
                print("    without the timeout: " + patient.describe(size))
        if arguments.hold_ms:
            with LatencyProxy(server.url, arguments.hold_ms) as proxy:
                held = Account(proxy.url, USER, PASSWORD)
                print(f"first read, every answer {arguments.hold_ms} ms after its request:")
                for size in sizes:
                    held_url = f"{proxy.url}{USER}/events-{size}/"
                    read = first_read(held, held_url)
                    print("  " + read.describe(size))
                    if arguments.trace:
                        print("".join(f"      {line}\n" for line in _Requests.trace), end="")
                    if read.error:
                        retry(held, held_url, size)
                        patient = first_read(held, held_url, patient=True)
                        print("    without the timeout: " + patient.describe(size))
        if arguments.profile:
            profile = cProfile.Profile()
            first_read(account, urls[max(sizes)], profile, patient=True)
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(30)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
