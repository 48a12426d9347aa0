"""The portfolio's month of 2,000 events in Chromium: long tasks while it renders and scrolls.

    .venv/bin/python bench/portfolio_render.py [--runs 3] [--profile]

On a throwaway PostgreSQL database (Redis for the cache, like the tests): a user whose 5 iCal feeds
(served from this process, 400 events each, all in one month) go through the real read, a live
Django server in a thread, and Debian's Chromium driven by Playwright (``/usr/bin/chromium``, or
``CHROMIUM_PATH``). Signed in, the page opens the month view of that month at 1440 px, waits for
the events, scrolls down and up, and goes to the next month and back three times; then the agenda
of a week of that month at 390 px (a phone), scrolled, a week on and back three times.

Measured in the page with the Performance API (a ``PerformanceObserver`` for ``longtask``
entries, buffered, added before the page's own scripts): long tasks (over 50 ms, the API's own
threshold), the longest, and how many took over 100 ms (target: none); the events the server sent,
the events drawn (in the month, a few a day: the page's own table) and the "+N more" total; the
time from navigation to the frame after the first events arrived. ``--profile`` also records a
JavaScript CPU profile of each run and prints where the time went (self time by function);
``--trace`` records Chromium's timeline and prints what each task over 100 ms was made of (script
by function, style, layout, paint, garbage collection), to tell the page's work from the browser's,
with the main thread's CPU time in it: on a busy machine a task's wall time grows, its CPU less.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Playwright's sync API runs an event loop in this thread; the ORM calls around it are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from bench.harness import throwaway_database  # noqa: E402
from bench.portfolio import feed_server  # noqa: E402

FEEDS = 5
EVENTS = int(os.environ.get("BENCH_EVENTS", "2000"))
LONG_MS = 100
TODAY = datetime.now(UTC).date()
# The month after this one: a whole month ahead, so "today" is not in it.
MONTH = (TODAY.replace(day=1) + timedelta(days=32)).replace(day=1)
MONTH_DAYS = ((MONTH + timedelta(days=32)).replace(day=1) - MONTH).days

# Before the page's scripts: long tasks (buffered), and when the first events were drawn.
OBSERVER = """
window.__bench = { longtasks: [], loaded: [] };
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (entry) {
    window.__bench.longtasks.push({ start: entry.startTime, duration: entry.duration });
  });
}).observe({ type: "longtask", buffered: true });
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("portfolio");
  if (!root) return;
  // The page's script has run by now, and its first read may have begun.
  var busy = root.classList.contains("is-loading");
  new MutationObserver(function () {
    var now = root.classList.contains("is-loading");
    if (busy && !now) {
      // The frame after the events arrived: FullCalendar has drawn them by then.
      requestAnimationFrame(function () {
        setTimeout(function () {
          window.__bench.loaded.push(performance.now());
        }, 0);
      });
    }
    busy = now;
  }).observe(root, { attributes: true, attributeFilter: ["class"] });
});
"""

# The month's events and "+N more" are ours (.pf-month__*), the agenda's FullCalendar's.
SHOWN = """() => {
  const events = [...document.querySelectorAll(
    "#portfolio-calendar .fc-event, #portfolio-calendar .pf-month__event")];
  const more = [...document.querySelectorAll("#portfolio-calendar .pf-month__more")].reduce(
    (sum, link) => sum + (parseInt(link.textContent.replace(/[^0-9]/g, ""), 10) || 0), 0);
  const visible = events.filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
  }).length;
  return { drawn: events.length, visible: visible, more: more };
}"""


# The feeds ------------------------------------------------------------------------------------


def _feed(calendar: int) -> bytes:
    """``EVENTS // FEEDS`` timed events spread over the days of MONTH, 07:00 to 19:00 UTC."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//bench//EN",
        f"X-WR-CALNAME:Feed {calendar}",
    ]
    for number in range(EVENTS // FEEDS):
        day = MONTH + timedelta(days=(number * 7 + calendar) % MONTH_DAYS)
        begin = datetime(day.year, day.month, day.day, 7 + (number + calendar) % 12, 0, tzinfo=UTC)
        begin += timedelta(minutes=30 * (number % 2))
        lines += [
            "BEGIN:VEVENT",
            f"UID:render-{calendar}-{number}@bench",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{begin:%Y%m%dT%H%M%SZ}",
            f"DTEND:{begin + timedelta(minutes=30 + 15 * (number % 3)):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Meeting {number} of feed {calendar}",
            f"LOCATION:Room {number % 9}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _serve_feeds() -> ThreadingHTTPServer:
    server = feed_server({f"/{n}.ics": _feed(n) for n in range(FEEDS)})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _user(feeds_url: str):  # type: ignore[no-untyped-def]
    from calendars.services import connection_connect_ics
    from tests.factories import UserFactory

    user = UserFactory(email="render@bench.example", time_zone="UTC")
    for n in range(FEEDS):
        connection_connect_ics(
            user=user, url=f"{feeds_url}/{n}.ics", label=f"Feed {n}", ip_address=None
        )
    return user


def _live_server():  # type: ignore[no-untyped-def]
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    server = LiveServerThread("127.0.0.1", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    return server


# The browser ----------------------------------------------------------------------------------


def _settled(page, loads: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page has drawn the events of its ``loads``-th read, and a little more."""
    # Polled from here: the page's CSP refuses the string evaluation wait_for_function uses.
    for _ in range(1200):
        if page.evaluate("() => window.__bench.loaded.length") >= loads:
            break
        page.wait_for_timeout(50)
    else:
        raise TimeoutError(f"The page did not finish read {loads} within a minute.")
    page.wait_for_timeout(300)  # a long task is reported a little after it ends


def _scroll(page) -> None:  # type: ignore[no-untyped-def]
    for delta in [400] * 8 + [-400] * 8:
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(60)


def _visit(
    browser, base_url: str, user, *, width: int, view: str, profile: bool, trace: bool
) -> dict:  # type: ignore[no-untyped-def, type-arg]
    from playwright.sync_api import Error as PlaywrightError

    from tests.e2e.conftest import log_in
    from tests.factories import DEFAULT_PASSWORD

    context = browser.new_context(
        base_url=base_url,
        timezone_id="UTC",
        locale="en-GB",
        viewport={"width": width, "height": 900},
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    log_in(page, user.email, DEFAULT_PASSWORD)
    page.wait_for_load_state()
    answers = []
    page.on(
        "response",
        lambda response: answers.append(response) if "/portfolio/events/" in response.url else None,
    )
    page.add_init_script(OBSERVER)
    cdp = None
    if profile:
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 200})
        cdp.send("Profiler.start")
    if trace:
        browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    answers.clear()
    day = MONTH if view == "month" else MONTH + timedelta(days=10)
    page.goto(f"/portfolio/?view={view}&date={day.isoformat()}")
    _settled(page, 1)
    # Read at once: Chromium lets a response's body go once the page has moved on.
    try:
        sent = len(answers[0].json()["events"]) if answers else 0
    except PlaywrightError:  # gone already at times, whatever we do: the figure says unknown
        sent = -1
    # The server's part of the first render: the events' request, sent to answered.
    answered = answers[0].request.timing["responseEnd"] if answers else 0.0
    first = page.evaluate("() => window.__bench.loaded[0]")
    _scroll(page)
    for turn in range(3):
        # CSS, not roles: naming every event's role would be the bench's own long task.
        page.locator(".fc-next-button").click()
        _settled(page, 2 + 2 * turn)
        page.locator(".fc-prev-button").click()
        _settled(page, 3 + 2 * turn)
    _scroll(page)
    page.wait_for_timeout(500)
    tasks = page.evaluate("() => window.__bench.longtasks")
    shown = page.evaluate(SHOWN)  # after: measuring 2,000 boxes is a long task of its own
    hot = _hot_functions(cdp.send("Profiler.stop")["profile"]) if cdp else []
    if trace:
        hot += _long_task_parts(json.loads(browser.stop_tracing()))
    context.close()
    durations = [task["duration"] for task in tasks]
    return {
        "sent": sent,
        "answered": answered,
        "shown": shown,
        "first": first,
        "long": len(durations),
        "longest": max(durations, default=0.0),
        "over": sum(1 for d in durations if d > LONG_MS),
        "durations": sorted(durations, reverse=True),
        "hot": hot,
    }


def _hot_functions(profile: dict, top: int = 12) -> list[str]:  # type: ignore[type-arg]
    """Self time by function (name, file, line) from a CDP CPU profile."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    self_time: Counter[str] = Counter()
    deltas = profile.get("timeDeltas", [])
    for sample, delta in zip(profile.get("samples", []), deltas, strict=False):
        frame = nodes[sample]["callFrame"]
        where = frame["url"].rsplit("/", 1)[-1] or "-"
        name = frame["functionName"] or "(anonymous)"
        self_time[f"{name} {where}:{frame['lineNumber'] + 1}"] += delta / 1000
    idle = {"(idle) -:0", "(program) -:0", "(garbage collector) -:0"}
    return [
        f"{ms:7.0f} ms  {name}" for name, ms in self_time.most_common(top + 3) if name not in idle
    ][:top] + [f"{self_time[name]:7.0f} ms  {name}" for name in sorted(idle) if name in self_time]


TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "v8.execute",
    "disabled-by-default-v8.cpu_profiler",
]


def _long_task_parts(trace: dict) -> list[str]:  # type: ignore[type-arg]
    """Each main-thread task over LONG_MS: its duration, its self time by part of the timeline
    (style, layout, paint, GC, ...) and by script function (from the sampling profiler's samples
    inside it)."""
    everything = trace.get("traceEvents", [])
    main = {
        (e["pid"], e["tid"])
        for e in everything
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    timeline = sorted(
        (
            e
            for e in everything
            if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) in main
        ),
        key=lambda e: (e["ts"], -e["dur"]),
    )
    samples = _samples(everything, main)
    lines = []
    for index, task in enumerate(timeline):
        if task["name"] != "RunTask" or task["dur"] < LONG_MS * 1000:
            continue
        end = task["ts"] + task["dur"]
        parts: Counter[str] = Counter()
        stack: list[tuple[str, int]] = []  # (part, end) of the events still open
        for inner in timeline[index + 1 :]:
            if inner["ts"] >= end:
                break
            while stack and stack[-1][1] <= inner["ts"]:
                stack.pop()
            part = inner["name"]
            parts[part] += inner["dur"] / 1000
            if stack:
                parts[stack[-1][0]] -= inner["dur"] / 1000  # self time: the parent's, less this
            stack.append((part, inner["ts"] + inner["dur"]))
        script: Counter[str] = Counter()
        for at, name, ms in samples:
            if task["ts"] <= at < end:
                script[name] += ms
        lines.append(
            f"task of {task['dur'] / 1000:.0f} ms ({task.get('tdur', 0) / 1000:.0f} ms of the"
            " main thread's CPU): "
            + ", ".join(f"{name} {ms:.0f}" for name, ms in parts.most_common(5))
            + "\n          script: "
            + ", ".join(f"{name} {ms:.0f}" for name, ms in script.most_common(6))
        )
    return lines


def _samples(events: list[dict], main: set[tuple[int, int]]) -> list[tuple[float, str, float]]:  # type: ignore[type-arg]
    """The main thread's profiler samples in the trace: (time, function, ms) each."""
    profiles = {
        e["id"]: e["args"]["data"]["startTime"]
        for e in events
        if e.get("name") == "Profile" and (e["pid"], e["tid"]) in main
    }
    names: dict[tuple[str, int], str] = {}
    found = []
    clock = dict(profiles)
    for chunk in events:
        if chunk.get("name") != "ProfileChunk" or chunk.get("id") not in profiles:
            continue
        data = chunk["args"]["data"]
        profile = data.get("cpuProfile", {})
        for node in profile.get("nodes", []):
            frame = node["callFrame"]
            where = (frame.get("url") or "").rsplit("/", 1)[-1] or "-"
            name = frame.get("functionName") or "(anonymous)"
            names[(chunk["id"], node["id"])] = f"{name} {where}"
        for node, delta in zip(
            profile.get("samples", []), data.get("timeDeltas", []), strict=False
        ):
            clock[chunk["id"]] += delta
            found.append((clock[chunk["id"]], names.get((chunk["id"], node), "?"), delta / 1000))
    return found


def _line(label: str, result: dict) -> str:  # type: ignore[type-arg]
    shown = result["shown"]
    return (
        f"{label}: {result['sent']} events sent, {shown['drawn']} drawn, {shown['visible']} "
        f"visible + {shown['more']} behind '+N more'; first render {result['first']:.0f} ms "
        f"after navigation (the events' answer took {result['answered']:.0f} ms of it); "
        f"{result['long']} long tasks, longest {result['longest']:.0f} ms, "
        f"{result['over']} over {LONG_MS} ms (target 0); the longest: "
        + ", ".join(f"{d:.0f}" for d in result["durations"][:8])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--trace", action="store_true")
    options = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not shutil.which(CHROMIUM):
        sys.exit(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium).")
    feeds = _serve_feeds()
    with throwaway_database():
        from django.conf import settings

        # Three month changes there and back, per run: more reads than a person makes.
        settings.PORTFOLIO_FETCH_RATE = "100000/m"
        user = _user(f"http://127.0.0.1:{feeds.server_address[1]}")
        server = _live_server()
        base_url = f"http://127.0.0.1:{server.port}"
        lines = [f"{EVENTS:,} events in {MONTH:%B %Y}, {FEEDS} iCal feeds, {options.runs} runs:"]
        results: dict[str, list[dict]] = {"month": [], "agenda": []}  # type: ignore[type-arg]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                for run in range(1, options.runs + 1):
                    for view, width in (("month", 1440), ("agenda", 390)):
                        result = _visit(
                            browser,
                            base_url,
                            user,
                            width=width,
                            view=view,
                            profile=options.profile,
                            trace=options.trace,
                        )
                        results[view].append(result)
                        lines.append(_line(f"  run {run}, {view} view at {width} px", result))
                        print(lines[-1], flush=True)
                        for hot in result["hot"]:
                            print(f"      {hot}", flush=True)
                browser.close()
        finally:
            server.terminate()
            server.join(timeout=10)
            feeds.shutdown()
        for view, runs in results.items():
            lines.append(
                f"{view}: first render median {statistics.median(r['first'] for r in runs):.0f} ms;"
                f" long tasks over {LONG_MS} ms per run: {[r['over'] for r in runs]}; longest per"
                f" run: {[round(r['longest']) for r in runs]} ms"
            )
        print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
