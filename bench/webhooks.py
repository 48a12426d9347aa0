"""Outgoing webhooks: the time from a booking's commit to its delivery at a receiver.

    .venv/bin/python bench/webhooks.py [--bookings 50]

On a throwaway PostgreSQL database, Redis as the broker and a real Celery worker (threads, four
of them, on the default and webhooks queues as `make run` starts it): bookings are made one after
another through the real service on a page whose owner has a webhook for ``booking.created`` at a
receiver on loopback. For each, the lag from the booking's commit to the request's arrival,
p50/p95/max (target p95 <= 2 s); and every request's signature checked.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import throwaway_database  # noqa: E402

TARGET_P95_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=50)
    arguments = parser.parse_args()
    with throwaway_database():
        from django.conf import settings
        from django.db import connection

        from tests.webhooks.receiver import receiving

        database = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        }
        queues = f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_WEBHOOKS_QUEUE}"
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "multical", "worker", "--pool", "threads",
             "--concurrency", "4", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--queues", queues],
            cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            with receiving() as receiver:
                lags, verified = _measure(receiver, arguments.bookings)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    lags.sort()
    p95 = lags[max(0, round(0.95 * len(lags)) - 1)]
    print(f"bookings: {len(lags)}, deliveries verified: {verified}/{len(lags)}")
    print(
        f"commit to receipt: p50 {statistics.median(lags) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms "
        f"(target p95 <= {TARGET_P95_SECONDS:.0f} s: {'met' if p95 <= TARGET_P95_SECONDS else 'MISSED'})"
    )


def _measure(receiver, bookings: int) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    from booking.models import BookingPage
    from booking.services.bookings import booking_create
    from tests.factories import UserFactory
    from tests.webhooks.test_docs import documented_verify
    from webhooks.services import subscription_create

    owner = UserFactory(email="webhooks-bench@example.com")
    page = BookingPage.objects.create(
        owner=owner,
        title="Intro call",
        slug="intro",
        listed=True,
        durations=[30],
        time_zone="UTC",
        weekly_hours={str(day): [[0, 1440]] for day in range(1, 8)},
        minimum_notice=0,
    )
    _, secret = subscription_create(user=owner, url=receiver.url, events=["booking.created"])
    verify = documented_verify()
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    # The worker's first task pays for its imports and connections: one booking to warm it.
    committed: list[float] = []
    for number in range(bookings + 1):
        booking_create(
            page=page,
            start=first + timedelta(minutes=30 * number),
            duration=30,
            attendee_name=f"Bench Guest {number}",
            attendee_email=f"guest{number}@example.com",
            attendee_time_zone="UTC",
            answers=[],
            submission_key=f"bench-{number}",
        )
        committed.append(time.time())  # booking_create returns once its transaction committed
        receiver.wait_for(number + 1, timeout=60)
        time.sleep(0.05)
    received = receiver.received
    verified = sum(verify(secret, request.headers, request.body) for request in received[1:])
    lags = [request.at - at for request, at in zip(received[1:], committed[1:], strict=True)]
    return lags, verified


if __name__ == "__main__":
    main()
