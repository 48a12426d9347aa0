"""What an operator watches, counted once for the whole installation.

Web processes, Celery workers and beat run on several machines, so a counter kept in one process's
memory would show a scrape a random slice of the truth. Every observation is added in Redis
instead (one pipelined round trip, ``HINCRBY``/``HINCRBYFLOAT`` into one hash per metric), and
``SharedMetrics``, a Prometheus collector, reads the hashes when ``/metrics`` is scraped
(``multical.metrics_endpoint``) together with the depth of each Celery queue on the broker.

Labels name a provider kind, an outcome, an error kind or an HTTP status class: a few values each.
A value of any other shape (an id, a name, a sentence) is counted as ``other``, so no id, name or
content can ever become a label. Without Redis (development on the embedded stand-ins) nothing is
recorded, and the settings refuse ``METRICS_TOKEN``.

A failure to record is logged and otherwise ignored: a metric never fails a sync or an answer.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# A label value is a short word of these characters; anything else is counted as OTHER.
_LABEL_VALUE = re.compile(r"[a-z0-9_.]{1,24}")
OTHER = "other"
# Separates the label values in a hash field, and a histogram series from its bucket.
_VALUES_SEPARATOR = "\x1f"
_BUCKET_SEPARATOR = "\x1e"
_SUM = "sum"
# A metric never holds up what it measures for longer than this.
_REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class Counter:
    name: str
    documentation: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Histogram:
    name: str
    documentation: str
    buckets: tuple[float, ...]
    labels: tuple[str, ...] = ()


# Seconds, from a webhook's milliseconds to a poll interval's minutes and a backlog's hour.
_SECONDS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
)

SYNCS = Counter(
    "multical_syncs",
    "Syncs of a source calendar, by provider kind and outcome (ok, failed, permanent).",
    ("provider", "outcome"),
)
SYNC_DURATION = Histogram(
    "multical_sync_duration_seconds",
    "Wall time of one sync of a source calendar, by provider kind.",
    _SECONDS,
    ("provider",),
)
SYNC_LAG = Histogram(
    "multical_sync_lag_seconds",
    "From the oldest unserved request for a calendar's sync (a notification, a poll, a person) "
    "to the sync that served it, by provider kind.",
    _SECONDS,
    ("provider",),
)
PROVIDER_ERRORS = Counter(
    "multical_provider_errors",
    "Provider failures recorded on a calendar or connection, by provider kind, error kind "
    "(throttled, revoked, unreachable, refused) and HTTP status class.",
    ("provider", "kind", "status"),
)
WEBHOOK_ANSWER = Histogram(
    "multical_webhook_answer_seconds",
    "Time to answer a provider's push notification, by provider.",
    _SECONDS,
    ("provider",),
)
POLLS = Counter(
    "multical_polls",
    "Polled calendars the poller looked at, by result (queued for a sync, or skipped).",
    ("result",),
)
POLLS_PER_TICK = Histogram(
    "multical_polls_queued_per_tick",
    "Syncs of polled calendars queued by one tick of the poller: spread polls stay small.",
    (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
FOLLOW_UP_LAG = Histogram(
    "multical_booking_follow_up_lag_seconds",
    "From a booking being made or changed to its follow-up (meeting, event, e-mails) done.",
    _SECONDS,
)

SHARED: tuple[Counter | Histogram, ...] = (
    SYNCS,
    SYNC_DURATION,
    SYNC_LAG,
    PROVIDER_ERRORS,
    WEBHOOK_ANSWER,
    POLLS,
    POLLS_PER_TICK,
    FOLLOW_UP_LAG,
)


# --- Recording ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncFinished:
    """One sync of a source calendar ended: ``outcome`` is ok, failed (transient, retried) or
    permanent (the connection needs its user); ``lag_seconds`` runs from the oldest request it
    served (``SyncState.pending_since``) to now, None when it served none."""

    provider: str
    outcome: str
    seconds: float
    lag_seconds: float | None


def syncs_finished(finished: Sequence[SyncFinished]) -> None:
    """Several syncs ended (a worker's batch): recorded in one round trip."""
    _record(
        counts=[(SYNCS, (each.provider, each.outcome), 1) for each in finished],
        observations=[(SYNC_DURATION, (each.provider,), each.seconds) for each in finished]
        + [
            (SYNC_LAG, (each.provider,), each.lag_seconds)
            for each in finished
            if each.lag_seconds is not None
        ],
    )


def provider_error(*, provider: str, kind: str, status: int | None) -> None:
    """A provider failure was recorded on a calendar or connection (``error_kind`` names it)."""
    _record(counts=[(PROVIDER_ERRORS, (provider, kind, status_class(status)), 1)])


def webhook_answered(*, provider: str, seconds: float) -> None:
    _record(observations=[(WEBHOOK_ANSWER, (provider,), seconds)])


def poll_spread(*, queued: int, skipped: int) -> None:
    """One tick of the poller queued ``queued`` syncs and skipped ``skipped`` calendars (polled
    recently enough, or their server backing off)."""
    _record(
        counts=[(POLLS, ("queued",), queued), (POLLS, ("skipped",), skipped)],
        observations=[(POLLS_PER_TICK, (), queued)],
    )


def follow_up_done(*, lag_seconds: float) -> None:
    _record(observations=[(FOLLOW_UP_LAG, (), lag_seconds)])


def error_kind(*, permanent: bool, throttled: bool, status: int | None) -> str:
    """The kind of a provider failure, as ``provider_error`` counts it: throttled (asked to slow
    down), revoked (permanent: the connection needs its user), unreachable (no answer at all) or
    refused (any other answer)."""
    if throttled:
        return "throttled"
    if permanent:
        return "revoked"
    return "unreachable" if status is None else "refused"


def status_class(status: int | None) -> str:
    """``4xx``/``5xx`` (and so on) for an HTTP status, ``none`` without one."""
    return f"{status // 100}xx" if status is not None and 100 <= status < 600 else "none"


def label_value(value: str) -> str:
    """``value`` when it is a short lower-case word, else ``OTHER``."""
    return value if _LABEL_VALUE.fullmatch(value) else OTHER


def _record(
    *,
    counts: Sequence[tuple[Counter, tuple[str, ...], int]] = (),
    observations: Sequence[tuple[Histogram, tuple[str, ...], float]] = (),
) -> None:
    client = _client()
    if client is None:
        return
    # Added up here first, so that many observations of one series cost one command each.
    increments: dict[tuple[str, str], int] = {}
    sums: dict[tuple[str, str], float] = {}
    for counter, values, amount in counts:
        where = (_key(counter), _series(counter.labels, values))
        increments[where] = increments.get(where, 0) + amount
    for histogram, values, value in observations:
        series = _series(histogram.labels, values)
        bucket = bisect_left(histogram.buckets, value)  # index len(buckets) is +Inf
        where = (_key(histogram), f"{series}{_BUCKET_SEPARATOR}{bucket}")
        increments[where] = increments.get(where, 0) + 1
        where = (_key(histogram), f"{series}{_BUCKET_SEPARATOR}{_SUM}")
        sums[where] = sums.get(where, 0.0) + max(value, 0.0)
    pipe = client.pipeline(transaction=False)
    for (key, name), amount in increments.items():
        if amount:
            pipe.hincrby(key, name, amount)
    for (key, name), total in sums.items():
        pipe.hincrbyfloat(key, name, total)
    try:
        pipe.execute()
    except redis.RedisError as error:
        logger.warning("Metrics not recorded: Redis failed (%s)", type(error).__name__)


def _series(labels: tuple[str, ...], values: tuple[str, ...]) -> str:
    if len(labels) != len(values):
        raise ValueError(f"Expected values for {labels}, got {len(values)}.")
    return _VALUES_SEPARATOR.join(label_value(value) for value in values)


def _key(metric: Counter | Histogram) -> str:
    return f"{settings.METRICS_KEY_PREFIX}:{metric.name}"


@cache
def _redis(url: str) -> redis.Redis:
    # redis-py's pool reopens its connections in a forked child (Celery's prefork workers).
    return redis.Redis.from_url(
        url, socket_timeout=_REDIS_TIMEOUT_SECONDS, socket_connect_timeout=_REDIS_TIMEOUT_SECONDS
    )


def _client() -> redis.Redis | None:
    return _redis(settings.REDIS_URL) if settings.REDIS_URL else None


# --- Reading, at scrape time --------------------------------------------------------------------


class SharedMetrics(Collector):
    """The counters and histograms every process recorded, and the Celery queues' depths."""

    def collect(self) -> Iterator[Metric]:
        client = _client()
        if client is None:
            return
        pipe = client.pipeline(transaction=False)
        for metric in SHARED:
            pipe.hgetall(_key(metric))
        for metric, stored in zip(SHARED, pipe.execute(), strict=True):
            fields = {field.decode(): value.decode() for field, value in stored.items()}
            if isinstance(metric, Counter):
                yield _counter_family(metric, fields)
            else:
                yield _histogram_family(metric, fields)
        yield queue_depths()


def _counter_family(counter: Counter, fields: dict[str, str]) -> CounterMetricFamily:
    family = CounterMetricFamily(counter.name, counter.documentation, labels=counter.labels)
    for series, value in sorted(fields.items()):
        family.add_metric(_label_values(series, counter.labels), float(value))
    return family


def _histogram_family(histogram: Histogram, fields: dict[str, str]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(histogram.name, histogram.documentation, labels=histogram.labels)
    by_series: dict[str, dict[str, str]] = {}
    for field, value in fields.items():
        series, _, part = field.partition(_BUCKET_SEPARATOR)
        by_series.setdefault(series, {})[part] = value
    bounds = [*(str(float(bound)) for bound in histogram.buckets), "+Inf"]
    for series, parts in sorted(by_series.items()):
        cumulative, buckets = 0, []
        for index, bound in enumerate(bounds):
            cumulative += int(parts.get(str(index), 0))
            buckets.append((bound, float(cumulative)))
        family.add_metric(
            _label_values(series, histogram.labels), buckets, float(parts.get(_SUM, 0))
        )
    return family


def _label_values(series: str, labels: tuple[str, ...]) -> list[str]:
    return series.split(_VALUES_SEPARATOR) if labels else []


# Kombu's Redis transport keeps messages sent with a priority in a list per priority step,
# named after the queue (kombu.transport.redis: the queue, then "\x06\x16" and the step).
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def queue_depths() -> GaugeMetricFamily:
    """Messages waiting in each Celery queue (``CELERY_QUEUES_ALL``) on a Redis broker."""
    family = GaugeMetricFamily(
        "multical_celery_queue_length",
        "Tasks waiting in each Celery queue on the broker (not yet taken by a worker).",
        labels=("queue",),
    )
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return family
    queues = settings.CELERY_QUEUES_ALL
    pipe = _redis(url).pipeline(transaction=False)
    for queue in queues:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(f"{queue}{suffix}")
    lengths = pipe.execute()
    steps = len(_PRIORITY_SUFFIXES)
    for index, queue in enumerate(queues):
        family.add_metric([queue], float(sum(lengths[index * steps : (index + 1) * steps])))
    return family
