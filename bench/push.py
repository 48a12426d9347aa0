"""What push notifications cost: webhook answers, coalescing, and notification-to-block time.

    .venv/bin/python bench/push.py

On a throwaway PostgreSQL database, with the fake of Google's API (the real client library talks
to it), gunicorn serving the project, Redis as the broker:
- 1,000 notifications across 10 calendars from 10 concurrent senders: answer latency p50/p99
  (target p99 <= 50 ms), how many syncs they queued (target <= 2 per calendar: coalescing), and
  the provider requests the webhook itself made (none: it only queues);
- with a real Celery worker running: from a change at the provider plus its notification to the
  block in the target calendar, p95 over 20 changes (target <= 1.5 s).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import free_port, throwaway_database, wait_for  # noqa: E402

CALENDARS = 10
NOTIFICATIONS = 1000
SENDERS = 10
CHANGES = 20


def main() -> None:
    with throwaway_database():
        from django.conf import settings
        from django.db import connection

        from tests.fakes.google import API_PREFIX, TOKEN_PATH, GoogleFake, _Handler, _Server

        fake = GoogleFake()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = fake
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        fake.url = f"http://127.0.0.1:{server.server_address[1]}"
        web_port = free_port()
        site = f"http://127.0.0.1:{web_port}"
        provider_env = {
            "GOOGLE_API_ENDPOINT": f"{fake.url}{API_PREFIX}",
            "GOOGLE_TOKEN_URI": f"{fake.url}{TOKEN_PATH}",
            "GOOGLE_CLIENT_ID": fake.client_id,
            "GOOGLE_CLIENT_SECRET": fake.client_secret,
        }
        settings.SITE_URL = site
        for name, value in provider_env.items():
            setattr(settings, name, value)
        calendars, target = _world(fake)

        database_url = f"postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}/{connection.settings_dict['NAME']}"
        env = {
            **os.environ,
            **provider_env,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url,
            # Every request comes from 127.0.0.1: no limit may be what the figures measure.
            "RATE_LIMIT_DEFAULT": "1000000/m",
        }
        web = subprocess.Popen(
            # As the Dockerfile runs it: three sync workers.
            [sys.executable, "-m", "gunicorn", "multical.wsgi", "--bind", f"127.0.0.1:{web_port}",
             "--workers", "3", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            wait_for(f"{site}/health/")
            for line in _webhook_figures(fake, calendars, site):
                print(line, flush=True)
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "--app", "multical", "worker", "--pool", "threads",
                 "--concurrency", "4", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                 "--queues", ",".join(settings.CELERY_QUEUES_ALL)],
                cwd=ROOT, env=env,
            )  # fmt: skip
            try:
                time.sleep(5)
                for line in _end_to_end_figures(fake, calendars[0], target, site):
                    print(line, flush=True)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)
            server.shutdown()


def _world(fake):  # type: ignore[no-untyped-def]
    from calendars.models import Calendar, Connection
    from calendars.push import calendar_watch
    from multical.lib import vault
    from syncrules.models import SyncRule
    from tests.factories import UserFactory

    user = UserFactory(email="push-bench@example.com")
    secrets = fake.grant()
    google = Connection(user=user, kind=Connection.Kind.GOOGLE, label=secrets["email"])
    google.secrets = vault.seal_json(secrets, context=vault.context_for(google, "secrets"))
    google.save()
    fake.add_calendar("blocks@example.com", "Blocks")
    target = Calendar.objects.create(
        connection=google, remote_id="blocks@example.com", name="Blocks"
    )
    calendars = []
    for number in range(CALENDARS):
        remote_id = f"source-{number}@example.com"
        fake.add_calendar(remote_id, f"Source {number}")
        calendar = Calendar.objects.create(
            connection=google, remote_id=remote_id, name=f"Source {number}"
        )
        rule = SyncRule.objects.create(user=user, name=f"Source {number} → Blocks")
        rule.sources.add(calendar)
        rule.targets.add(target)
        calendar_watch(calendar)
        calendar.refresh_from_db()
        calendars.append(calendar)
    return calendars, target


def _notify(fake, calendar, site: str) -> float:  # type: ignore[no-untyped-def]
    headers = fake.notification_headers(calendar.push_channel_id, "exists")
    request = urllib.request.Request(
        f"{site}/hooks/google/", data=b"", headers=headers, method="POST"
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return time.perf_counter() - began


def _queued() -> int:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL).llen(settings.CELERY_TASK_DEFAULT_QUEUE)


def _webhook_figures(fake, calendars, site: str) -> list[str]:  # type: ignore[no-untyped-def]
    for calendar in calendars:  # warm up both gunicorn workers
        _notify(fake, calendar, site)
    _clear_queue()
    requests_before, queued_before = fake.request_count, _queued()
    with ThreadPoolExecutor(SENDERS) as senders:
        latencies = sorted(
            senders.map(
                lambda n: _notify(fake, calendars[n % CALENDARS], site), range(NOTIFICATIONS)
            )
        )
    queued = _queued() - queued_before
    p50, p99 = (statistics.quantiles(latencies, n=100)[index] * 1000 for index in (49, 98))
    return [
        f"webhook: {NOTIFICATIONS:,} notifications across {CALENDARS} calendars, {SENDERS} senders at once",
        f"  answer latency p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 <= 50 ms: {'ok' if p99 <= 50 else 'MISSED'})",
        f"  syncs queued: {queued} = {queued / CALENDARS:.1f} per calendar (target <= 2: {'ok' if queued <= 2 * CALENDARS else 'MISSED'})",
        f"  provider requests made by the webhook: {fake.request_count - requests_before}",
    ]


def _clear_queue() -> None:
    import redis
    from django.conf import settings
    from django.core.cache import cache

    redis.Redis.from_url(settings.REDIS_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    from calendars.models import Calendar
    from syncrules.tasks import queued_key

    cache.delete_many(
        [
            queued_key(str(calendar_id), queue)
            for calendar_id in Calendar.objects.values_list("id", flat=True)
            for queue in settings.CELERY_QUEUES_ALL
        ]
    )


def _end_to_end_figures(fake, source, target, site: str) -> list[str]:  # type: ignore[no-untyped-def]
    _clear_queue()
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    delays = []
    for number in range(CHANGES):
        before = _blocks(fake, target)
        begin = start + timedelta(hours=number)
        fake.add_event(source.remote_id, f"Change {number}", begin, begin + timedelta(minutes=30))
        began = time.perf_counter()
        _notify(fake, source, site)
        deadline = began + 30
        while _blocks(fake, target) <= before:
            if time.perf_counter() > deadline:
                raise RuntimeError("no block appeared within 30 s")
            time.sleep(0.01)
        delays.append(time.perf_counter() - began)
    p95 = statistics.quantiles(delays, n=20)[18]
    return [
        f"notification to block (real worker, {CHANGES} changes): median {statistics.median(delays) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms (target <= 1.5 s: {'ok' if p95 <= 1.5 else 'MISSED'})",
    ]


def _blocks(fake, target) -> int:  # type: ignore[no-untyped-def]
    return sum(
        1
        for event in fake.live_events(target.remote_id)
        if event.get("extendedProperties", {}).get("private", {}).get("multical_block")
    )


if __name__ == "__main__":
    main()
