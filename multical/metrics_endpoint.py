"""``/metrics``: the Prometheus exposition, for the operator's scraper only.

Served only when ``METRICS_TOKEN`` is set, and only to ``Authorization: Bearer <METRICS_TOKEN>``;
anyone else gets the site's 404, so the endpoint is not even advertised. The counters and
histograms every process recorded come from Redis (``multical.metrics.SharedMetrics``); the gauges
below are read from the database at scrape time, each by one indexed query.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from calendars.models import Connection
from multical.metrics import SharedMetrics
from syncrules.models import SyncState


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise Http404
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SharedMetrics())
    registry.register(DatabaseGauges())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class DatabaseGauges(Collector):
    """The backlog of syncs asked for and not served, and the connections that need their user."""

    def collect(self) -> Iterator[Metric]:
        # The partial index syncrules_state_pending holds exactly the rows waiting.
        waiting = SyncState.objects.filter(pending_since__isnull=False).aggregate(
            count=Count("pk"), oldest=Min("pending_since")
        )
        oldest = waiting["oldest"]
        yield GaugeMetricFamily(
            "multical_sync_requests_waiting",
            "Calendars with a sync asked for and not yet served.",
            value=waiting["count"],
        )
        yield GaugeMetricFamily(
            "multical_sync_oldest_waiting_seconds",
            "Age of the oldest sync request not yet served (0 when none waits).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )
        needing = GaugeMetricFamily(
            "multical_connections_needing_reconnect",
            "Connections whose credentials the provider refused, by provider kind.",
            labels=("provider",),
        )
        rows = (
            Connection.objects.filter(status=Connection.Status.NEEDS_RECONNECT)
            .values_list("kind")
            .annotate(count=Count("pk"))
            .order_by("kind")
        )
        for kind, count in rows:
            needing.add_metric([kind], count)
        yield needing
