"""What the portfolio costs: a week of 5 slow calendars, our CPU, and an action's round trip.

    .venv/bin/python bench/portfolio.py             # all figures
    .venv/bin/python bench/portfolio.py --reads     # the reads only (a minute or so)
    .venv/bin/python bench/portfolio.py --actions   # the actions only (a few minutes)

On a throwaway PostgreSQL database (Redis for the cache, like the tests), through the real fetch
code (``portfolio.fetch.events_for``) and the real providers:
- a week of 5 calendars whose providers each answer in 200 ms (target <= 400 ms; read one after
  the other it would take over 1 s): 5 iCal feeds (5 accounts), then a mixed set of 2 Google
  calendars of one account, 2 Microsoft calendars of one mailbox and 1 iCal feed. The iCal feeds
  and the Google fake are served by other processes; the Microsoft fake runs in this one. The same
  reads with one thread are shown for comparison;
- our own CPU per 1,000 events, the providers' time left out: assembling alone (blocks left out,
  copies joined, JSON built; thread CPU time), and a whole read of 1,000 events from iCal feeds and
  from the Google fake answering at once (the CPU time of this process: HTTP, parsing, assembly,
  JSON; the servers' work is done elsewhere);
- an action's round trip (target: the provider's latency + <= 150 ms of ours, p95): 50 rounds of
  create, move (a drag), open, edit and delete, as the page's script sends them to the real
  endpoints (Django's test client, signed in), against a Google fake, a Microsoft fake and a
  Radicale (behind ``bench/latency_proxy.py``) that each answer every request 200 ms late. Per
  action: the provider's requests (counted at the fake; at our CalDAV client for Radicale), wall
  time, ours (wall less 200 ms per delayed request) and database queries. The Google fake runs in
  another process; the Microsoft fake's server runs in this one, so its own work (a millisecond or
  so a request) counts as ours. Both fakes answer without Nagle's algorithm (see ``_nodelay``);
  ``bench/latency_proxy.py`` does not, so CalDAV's "ours" still holds its stall of about 40 ms a
  request.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import throwaway_database  # noqa: E402

DELAY = 0.2
ROUNDS = 7
ACTION_ROUNDS = 50
ACTION_WARM_UP = 2  # rounds run first and not counted: the first requests load client libraries
OURS_TARGET_MS = 150
WEEK_EVENTS = 40  # per calendar, in the week read
CPU_EVENTS = 1000
MONDAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
    days=datetime.now(UTC).weekday()
)
WEEK = (MONDAY, MONDAY + timedelta(days=7))


def _start(number: int) -> datetime:
    return MONDAY + timedelta(
        days=number % 7, hours=7 + (number * 5) % 11, minutes=(number % 2) * 30
    )


# Servers in other processes ------------------------------------------------------------------


def _feed(calendar: int, events: int) -> bytes:
    """An iCal feed; one event in ten is a meeting every feed holds (same UID and time)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN", "X-WR-CALNAME:Bench"]
    for number in range(events):
        shared = number % 10 == 0
        uid = f"shared-{number}@bench" if shared else f"feed{calendar}-{number}@bench"
        begin = _start(number)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{begin:%Y%m%dT%H%M%SZ}",
            f"DTEND:{begin + timedelta(minutes=30):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Meeting {number} of feed {calendar}",
            f"LOCATION:Room {number % 9}",
            f"DESCRIPTION:Agenda for meeting {number}: https://zoom.us/j/{900000000 + number}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def feed_server(bodies: dict[str, bytes], delay: float = 0.0) -> ThreadingHTTPServer:
    """iCal feeds at their paths (``bodies``), each answer ``delay`` seconds late, without
    Nagle's wait (``_nodelay``); not serving yet."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            time.sleep(delay)
            body = bodies.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def serve_feeds(delay: float, calendars: int, events: int) -> None:
    """Run as a child: iCal feeds at /<n>.ics, each answer ``delay`` seconds late."""
    server = feed_server({f"/{n}.ics": _feed(n, events) for n in range(calendars)}, delay)
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


def serve_google(delay: float, calendars: int, events: int) -> None:
    """Run as a child: the Google fake with ``calendars`` calendars of ``events`` events, each API
    answer ``delay`` seconds late; prints its address and an authorization."""
    from tests.fakes.google import API_PREFIX, GoogleFake, _Handler, _Server

    fake = GoogleFake()
    handle = fake.handle

    def slow(method, target, headers, raw):  # type: ignore[no-untyped-def]
        if target == COUNT_PATH:  # the bench's own question, not the provider's API
            return 200, {}, {"api": fake.request_count, "token": fake.token_requests}
        if target.startswith(API_PREFIX):
            time.sleep(delay)
        return handle(method, target, headers, raw)

    fake.handle = slow  # type: ignore[method-assign]
    for calendar in range(calendars):
        calendar_id = f"bench{calendar}@example.com"
        fake.add_calendar(calendar_id, f"Google {calendar}")
        for number in range(events):
            shared = number % 10 == 0
            begin = _start(number)
            fake.add_event(
                calendar_id,
                f"Meeting {number} of Google {calendar}",
                begin,
                begin + timedelta(minutes=30),
                iCalUID=f"shared-{number}@bench" if shared else f"g{calendar}-{number}@bench",
                location=f"Room {number % 9}",
                hangoutLink=f"https://meet.google.com/abc-defg-{number:03d}",
            )
    server = _Server(("127.0.0.1", 0), _nodelay(_Handler))
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    print(json.dumps({"url": fake.url, "secrets": fake.grant()}), flush=True)
    server.serve_forever(0.05)


COUNT_PATH = "/bench/requests"


def _nodelay(handler: type) -> type:
    """``handler`` answering without Nagle's algorithm. http.server writes an answer's headers
    and body apart; on a kept-alive connection the body then waits for the client's delayed ACK,
    about 40 ms on Linux, which a real provider does not add and would count as ours."""
    return type(handler.__name__, (handler,), {"disable_nagle_algorithm": True})


def _google_requests(google: dict) -> tuple[int, int]:
    """(API requests, token requests) the Google fake in its child process has answered."""
    with urllib.request.urlopen(f"{google['url']}{COUNT_PATH}", timeout=10) as answer:
        counts = json.load(answer)
    return counts["api"], counts["token"]


@contextmanager
def _child(role: str, delay: float, calendars: int, events: int):  # type: ignore[no-untyped-def]
    process = subprocess.Popen(
        [sys.executable, __file__, role, str(delay), str(calendars), str(events)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


# The measurements -----------------------------------------------------------------------------


def _user(email: str):  # type: ignore[no-untyped-def]
    from tests.factories import UserFactory

    return UserFactory(email=email, time_zone="Europe/Berlin")


def _ics_calendars(user, url: str, calendars: int) -> None:  # type: ignore[no-untyped-def]
    from calendars.services import connection_connect_ics

    for n in range(calendars):
        connection_connect_ics(user=user, url=f"{url}/{n}.ics", label=f"Feed {n}", ip_address=None)


def _google_calendars(user, google: dict, calendars: int) -> None:  # type: ignore[no-untyped-def]
    from django.conf import settings

    from calendars.models import Calendar, Connection
    from multical.lib import vault
    from tests.fakes.google import API_PREFIX, TOKEN_PATH, GoogleFake

    settings.GOOGLE_API_ENDPOINT = f"{google['url']}{API_PREFIX}"
    settings.GOOGLE_TOKEN_URI = f"{google['url']}{TOKEN_PATH}"
    settings.GOOGLE_CLIENT_ID = GoogleFake.client_id
    settings.GOOGLE_CLIENT_SECRET = GoogleFake.client_secret
    secrets = google["secrets"]
    connection = Connection(user=user, kind=Connection.Kind.GOOGLE, label=secrets["email"])
    connection.secrets = vault.seal_json(secrets, context=vault.context_for(connection, "secrets"))
    connection.save()
    for n in range(calendars):
        Calendar.objects.create(
            connection=connection, remote_id=f"bench{n}@example.com", name=f"Google {n}"
        )


@contextmanager
def _microsoft(user, delay: float, calendars: int, events: int):  # type: ignore[no-untyped-def]
    from django.conf import settings

    from calendars.models import Calendar, Connection
    from integrations.microsoft import credentials
    from multical.lib import vault
    from tests.fakes import microsoft as microsoft_fake
    from tests.fakes.microsoft import MicrosoftFake

    fake = MicrosoftFake()
    # Its Graph server is started with its handler: answering without Nagle's (see _nodelay).
    graph_handler = microsoft_fake._GraphHandler
    microsoft_fake._GraphHandler = _nodelay(graph_handler)
    try:
        fake.start()
    finally:
        microsoft_fake._GraphHandler = graph_handler
    settings.MICROSOFT_AUTHORITY = fake.authority
    settings.MICROSOFT_GRAPH_URL = fake.graph_url
    settings.MICROSOFT_CLIENT_ID = fake.identity.client_id
    settings.MICROSOFT_CLIENT_SECRET = fake.identity.client_secret
    original = credentials.identity_http_client
    # As in production: msal's discovery documents are kept by the process, only tokens are asked.
    discovery = credentials._DiscoveryCache()
    credentials.identity_http_client = lambda: credentials._CachingHttpClient(
        fake.identity, discovery
    )
    try:
        account = fake.connect("bench@contoso.test")
        connection = Connection(
            user=user, kind=Connection.Kind.MICROSOFT, label="bench@contoso.test"
        )
        connection.secrets = vault.seal_json(
            account.secrets, context=vault.context_for(connection, "secrets")
        )
        connection.save()
        ids = [account.default_calendar] + [
            fake.graph.add_calendar(account.user, f"Outlook {n}") for n in range(1, calendars)
        ]
        for n, calendar_id in enumerate(ids):
            Calendar.objects.create(
                connection=connection, remote_id=calendar_id, name=f"Outlook {n}"
            )
            for number in range(events):
                begin = _start(number)
                fake.graph.add_event(
                    calendar_id,
                    f"Meeting {number} of Outlook {n}",
                    begin,
                    begin + timedelta(minutes=30),
                    ical_uid=f"shared-{number}@bench" if number % 10 == 0 else uuid.uuid4().hex,
                )
        fake.graph.page_size = 1000
        fake.graph.latency = delay
        yield fake
    finally:
        credentials.identity_http_client = original
        fake.stop()


def _timed(user, rounds: int = ROUNDS) -> tuple[list[float], int, int]:  # type: ignore[no-untyped-def]
    from integrations.base import Window
    from portfolio.fetch import events_for

    times, result = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        result = events_for(user, Window(*WEEK))
        times.append(time.perf_counter() - began)
    assert result is not None and not result.failures, result and result.failures
    return times, len(result.events), len({c.id for e in result.events for c in e.calendars})


def _serially(user) -> list[float]:  # type: ignore[no-untyped-def]
    from calendars import reading

    threads = reading.MAX_THREADS
    reading.MAX_THREADS = 1
    try:
        return _timed(user, rounds=3)[0]
    finally:
        reading.MAX_THREADS = threads


def _wall(label: str, user) -> list[str]:  # type: ignore[no-untyped-def]
    # The first read of a process also loads the client libraries (Google's API description).
    first = _timed(user, rounds=1)[0][0]
    times, events, calendars = _timed(user)
    serial = _serially(user)
    return [
        f"{label}: {calendars} calendars, {events} events in the week: "
        f"median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms, "
        f"worst {max(times) * 1000:.0f} ms over {ROUNDS} reads (target <= 400 ms); "
        f"first read of the process {first * 1000:.0f} ms; "
        f"one at a time: median {statistics.median(serial) * 1000:.0f} ms"
    ]


def _assembly_cpu() -> str:
    from calendars.models import Calendar
    from integrations.base import RemoteEvent, Window
    from portfolio.fetch import KnownBlocks, PortfolioResult, assemble
    from portfolio.payload import result_json

    calendars = [Calendar(id=uuid.uuid4(), name=f"Calendar {n}", color="#3b5bdb") for n in range(5)]
    reads, known = [], {}
    for n, calendar in enumerate(calendars):
        events = []
        for number in range(CPU_EVENTS // len(calendars)):
            begin = _start(number)
            event_id = f"https://dav.example.com/cal{n}/{number}.ics"
            if number % 20 == 7:
                known[(str(calendar.id), event_id)] = ""  # a block we wrote
            events.append(
                RemoteEvent(
                    id=event_id,
                    series_id=event_id,
                    start=begin,
                    end=begin + timedelta(minutes=30),
                    title=f"Meeting {number}",
                    location=f"Room {number % 9}",
                    video_link=f"https://zoom.us/j/{number}",
                    ical_uid=f"shared-{number}" if number % 10 == 0 else f"{n}-{number}",
                )
            )
        reads.append((calendar, events))
    samples = []
    for _ in range(20):
        began = time.thread_time()
        result = PortfolioResult(
            events=assemble(reads, window=Window(*WEEK), known_blocks=KnownBlocks(known))
        )
        json.dumps(result_json(result))
        samples.append(time.thread_time() - began)
    return (
        f"assembling {CPU_EVENTS:,} events (5 calendars, blocks left out, copies joined, JSON): "
        f"median {statistics.median(samples) * 1000:.1f} ms of CPU "
        f"-> {statistics.median(samples) * 1000 * 1000 / CPU_EVENTS:.2f} ms per 1,000 events"
    )


def _read_cpu(label: str, user) -> str:  # type: ignore[no-untyped-def]
    from integrations.base import Window
    from portfolio.fetch import events_for
    from portfolio.payload import result_json

    samples, read = [], 0
    for _ in range(5):
        began = time.process_time()
        result = events_for(user, Window(*WEEK))
        json.dumps(result_json(result))
        samples.append(time.process_time() - began)
        read = len(result.events)
    per_thousand = statistics.median(samples) * 1000 * 1000 / CPU_EVENTS
    return (
        f"{label}: {CPU_EVENTS:,} events read ({read} shown after joining copies): "
        f"median {statistics.median(samples) * 1000:.0f} ms of our CPU "
        f"-> {per_thousand:.0f} ms per 1,000 events"
    )


# An action's round trip ------------------------------------------------------------------------

ACTIONS = ("create", "move", "open", "edit", "delete")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def _round(client, calendar, number: int, requests) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    """One event created, dragged, opened, edited and deleted, as the page's script sends them.
    Per action: (wall time, database queries, delayed requests, other requests)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    begin = MONDAY + timedelta(days=7 + number % 5, hours=8 + number % 8)
    when = {"all_day": "", "time_zone": "Europe/Berlin"}
    fields = {"title": f"Action {number}", "location": "Room 1", "description": "Agenda", **when}
    out: dict[str, tuple] = {}

    def act(action: str, name: str, data: dict, expected: int = 200) -> dict:  # type: ignore[type-arg]
        url = reverse(f"portfolio:{name}", args=[calendar.id])
        send = client.get if name == "event" else client.post
        # The fake is asked for its count outside the timing: that is a request of its own.
        before = requests()
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            response = send(url, data, HTTP_ACCEPT="application/json")
            wall = time.perf_counter() - began
        after = requests()
        if response.status_code != expected:
            raise RuntimeError(f"{action}: {response.status_code} {response.content[:300]!r}")
        out[action] = (wall, len(queries), after[0] - before[0], after[1] - before[1])
        return response.json()

    def span(start: datetime, minutes: int) -> dict[str, str]:
        return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}

    created = act("create", "event_create", {**fields, **span(begin, 30)}, expected=201)
    event_id = created["event"]["id"]
    # A drag sends the new times without the version (portfolio.js, moved()).
    moved = act(
        "move", "event_move", {"event": event_id, "scope": "this", **when, **span(begin, 60)}
    )
    event_id = moved["event"]["id"]
    opened = act("open", "event", {"event": event_id})
    edited = act(
        "edit",
        "event_update",
        {
            **fields,
            "title": f"Action {number}, edited",
            "event": event_id,
            "etag": opened["etag"],
            "scope": "this",
            **span(begin + timedelta(hours=1), 45),
        },
    )
    act(
        "delete",
        "event_remove",
        {"event": edited["event"]["id"], "etag": edited["etag"], "scope": "this"},
    )
    return out


def _actions(label: str, user, calendar, requests) -> list[str]:  # type: ignore[no-untyped-def]
    """``requests()``: (requests answered DELAY late, other requests) so far, counted at the
    provider's side."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    samples: dict[str, list[tuple]] = {action: [] for action in ACTIONS}
    first: dict[str, float] = {}
    for number in range(ACTION_WARM_UP + ACTION_ROUNDS):
        results = _round(client, calendar, number, requests)
        if number == 0:
            first = {action: results[action][0] for action in ACTIONS}
        if number >= ACTION_WARM_UP:
            for action in ACTIONS:
                samples[action].append(results[action])
    lines = [f"{label}, {ACTION_ROUNDS} rounds ({ACTION_WARM_UP} before them not counted):"]
    for action in ACTIONS:
        walls = [wall * 1000 for wall, _, _, _ in samples[action]]
        ours = [(wall - slow * DELAY) * 1000 for wall, _, slow, _ in samples[action]]
        queries = [count for _, count, _, _ in samples[action]]
        slow = sorted({slow for _, _, slow, _ in samples[action]})
        other = sum(other for _, _, _, other in samples[action])
        lines.append(
            f"  {action:<6} {'/'.join(map(str, slow))} provider requests"
            + (f" (+{other} unhurried over all rounds)" if other else "")
            + f", {statistics.median(queries):g} queries (max {max(queries)}); "
            f"wall median {statistics.median(walls):.0f} ms, p95 {_p95(walls):.0f} ms; "
            f"ours median {statistics.median(ours):.0f} ms, p95 {_p95(ours):.0f} ms "
            f"(target <= {OURS_TARGET_MS} ms); first of the process {first[action] * 1000:.0f} ms"
        )
    return lines


def _google_actions() -> list[str]:
    with _child("--google", DELAY, 1, 0) as google:
        user = _user("actions-google@bench.example")
        _google_calendars(user, google, 1)
        calendar = user_calendar(user)
        return _actions(
            "Google, 200 ms per request", user, calendar, lambda: _google_requests(google)
        )


def _microsoft_actions() -> list[str]:
    user = _user("actions-microsoft@bench.example")
    with _microsoft(user, DELAY, 1, 0) as fake:
        calendar = user_calendar(user)

        def requests() -> tuple[int, int]:
            return fake.graph.count(), len(fake.identity.requests)

        return _actions("Microsoft, 200 ms per request", user, calendar, requests)


def _caldav_actions() -> list[str]:
    from bench.latency_proxy import LatencyProxy
    from bench.sync_engine_caldav import _RequestCounter
    from tests.caldav_servers import RadicaleServer
    from tests.syncrules.world import make_world

    with tempfile.TemporaryDirectory() as folder:
        server = RadicaleServer(Path(folder))
        server.start()
        try:
            with (
                LatencyProxy(server.url, hold_ms=int(DELAY * 1000)) as proxy,
                _RequestCounter() as counter,
            ):
                user = _user("actions-caldav@bench.example")
                world = make_world(server, user, ["Work"], server_url=proxy.url)
                lines = _actions(
                    "CalDAV (Radicale), 200 ms per request",
                    user,
                    world.calendars["Work"],
                    lambda: (counter.count, 0),
                )
                late = proxy.late()
            if late:
                lines.append(f"  ({late} Radicale answers came later than 200 ms: ours is less)")
            return lines
        finally:
            server.stop()


def user_calendar(user):  # type: ignore[no-untyped-def]
    from calendars.models import Calendar

    return Calendar.objects.select_related("connection").get(connection__user=user)


def _reads() -> list[str]:
    lines = []
    with _child("--feeds", DELAY, 5, WEEK_EVENTS) as feeds:
        user = _user("feeds@bench.example")
        _ics_calendars(user, feeds["url"], 5)
        lines += _wall("5 iCal feeds, 200 ms each", user)
    with (
        _child("--feeds", DELAY, 1, WEEK_EVENTS) as feed,
        _child("--google", DELAY, 2, WEEK_EVENTS) as google,
    ):
        user = _user("mixed@bench.example")
        _google_calendars(user, google, 2)
        _ics_calendars(user, feed["url"], 1)
        with _microsoft(user, DELAY, 2, WEEK_EVENTS):
            lines += _wall("2 Google + 2 Microsoft + 1 iCal, 200 ms per request", user)
    lines.append(_assembly_cpu())
    with _child("--feeds", 0.0, 5, CPU_EVENTS // 5) as feeds:
        user = _user("cpu-feeds@bench.example")
        _ics_calendars(user, feeds["url"], 5)
        lines.append(_read_cpu("whole read, 5 iCal feeds", user))
    with _child("--google", 0.0, 5, CPU_EVENTS // 5) as google:
        user = _user("cpu-google@bench.example")
        _google_calendars(user, google, 5)
        lines.append(_read_cpu("whole read, 5 Google calendars", user))
    return lines


def main(part: str) -> None:
    with throwaway_database():
        from django.conf import settings

        # 5 actions a round, 50 rounds a provider: more than a person sends in 15 minutes.
        settings.PORTFOLIO_ACTION_RATE = "100000/m"
        lines = []
        if part in ("", "--reads"):
            lines += _reads()
        if part in ("", "--actions"):
            lines += _google_actions() + _microsoft_actions() + _caldav_actions()
        for line in lines:
            print(line, flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] in ("--feeds", "--google"):
        serve = serve_feeds if sys.argv[1] == "--feeds" else serve_google
        serve(float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) <= 2 and sys.argv[1:] in ([], ["--reads"], ["--actions"]):
        main(sys.argv[1] if len(sys.argv) == 2 else "")
    else:
        sys.exit(f"usage: {sys.argv[0]} [--reads | --actions]")
