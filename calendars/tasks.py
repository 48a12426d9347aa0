"""Push channel and credential upkeep. Tasks take ids and call one service each."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import transaction

from calendars import push
from calendars.models import Calendar, Connection
from calendars.services import connection_record_error
from calendars.upkeep import connection_keep_authorized
from integrations.base import ProviderError
from multical.lib.retry import RETRY_LIMIT, backoff_seconds


def enqueue_channel_renewal(calendar_id: str, *, anew: bool = False) -> None:
    calendar_id = str(calendar_id)
    transaction.on_commit(lambda: renew_push_channel.delay(calendar_id, anew=anew))


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def renew_push_channel(self: Task, calendar_id: str, anew: bool = False) -> None:
    calendar = Calendar.objects.select_related("connection__user").filter(id=calendar_id).first()
    if calendar is None or not calendar.connection.is_usable:
        return
    try:
        push.calendar_watch(calendar, anew=anew)
    except ProviderError as error:
        if error.permanent:
            connection_record_error(connection=calendar.connection, error=error)
            return
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, error.retry_after)
        ) from None


@shared_task
def renew_push_channels() -> None:
    """Periodic: every channel that is missing or expires within a day, each in its own task."""
    for calendar_id in push.calendars_needing_a_channel().values_list("id", flat=True):
        enqueue_channel_renewal(str(calendar_id))


OAUTH_KINDS = (Connection.Kind.GOOGLE, Connection.Kind.MICROSOFT, Connection.Kind.ZOOM)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_LIMIT)
def keep_connection_authorized(self: Task, connection_id: str) -> None:
    # One whose last use failed for a passing reason is tried too: this may mend it.
    connection = Connection.objects.usable().filter(id=connection_id).first()
    if connection is None:
        return
    try:
        connection_keep_authorized(connection=connection)
    except ProviderError as error:
        if error.permanent:
            connection_record_error(connection=connection, error=error)
            return
        raise self.retry(
            countdown=backoff_seconds(self.request.retries, error.retry_after)
        ) from None


@shared_task
def keep_connections_authorized() -> None:
    """Periodic: every OAuth connection uses its credentials once, each in its own task."""
    connections = Connection.objects.usable().filter(kind__in=OAUTH_KINDS)
    for connection_id in connections.values_list("id", flat=True):
        keep_connection_authorized.delay(str(connection_id))
