"""Reads for calendars. Every lookup of a user's object goes through a helper that 404s outsiders."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from calendars.models import Calendar, Connection
from integrations.base import Provider
from integrations.registry import build_provider
from multical.lib import vault


def get_connection_for_user(user: User, connection_id: str) -> Connection:
    return get_object_or_404(Connection, id=connection_id, user=user)


def connections_for_user(user: User) -> QuerySet[Connection]:
    return Connection.objects.filter(user=user).prefetch_related("calendars")


class CalendarState(enum.StrEnum):
    """How a calendar is doing, as its line on the Calendars page says it."""

    WORKING = "working"
    NEEDS_RECONNECT = "needs_reconnect"  # its account's credentials are refused
    ERROR = "error"  # its last sync, or its account, failed for a passing reason
    UNUSED = "unused"  # no rule that is on reads it or writes into it: nothing syncs it
    RELEASED = "released"  # its account is disconnected or being removed


@dataclass(frozen=True, slots=True)
class CalendarStatus:
    calendar: Calendar
    state: CalendarState
    error: str  # its last sync's failure in plain words, when ERROR
    activity: str  # "idle", "queued" or "syncing" (``calendars_activity``)
    read: bool  # a rule that is on copies its events: it is synced
    written: bool  # a rule that is on writes blocks into it
    in_rules: bool  # in some rule, on or off


@dataclass(frozen=True, slots=True)
class ConnectionCalendars:
    connection: Connection
    calendars: list[CalendarStatus]


# What a sync is doing with each calendar now, by calendar id: "idle", "queued" or "syncing". The
# sync engine knows, a layer above this one: it registers its reader in its AppConfig.ready.
ActivityReader = Callable[[Iterable[object]], Mapping[str, str]]
_activity_reader: ActivityReader | None = None


def register_activity_reader(reader: ActivityReader) -> None:
    global _activity_reader
    _activity_reader = reader


def calendars_activity(calendar_ids: Iterable[object]) -> dict[str, str]:
    """Each calendar's sync activity, told by the registered reader ("idle" without one)."""
    ids = [str(calendar_id) for calendar_id in calendar_ids]
    told = _activity_reader(ids) if _activity_reader is not None and ids else {}
    return {calendar_id: str(told.get(calendar_id, "idle")) for calendar_id in ids}


def calendars_for_list(user: User) -> list[ConnectionCalendars]:
    """The user's connections, each with its calendars and how each one is doing."""
    connections = list(connections_for_user(user))
    calendars = [calendar for c in connections for calendar in c.calendars.all()]
    statuses = calendar_statuses(calendars)
    return [
        ConnectionCalendars(
            connection=connection,
            calendars=[statuses[str(calendar.id)] for calendar in connection.calendars.all()],
        )
        for connection in connections
    ]


def calendar_statuses(calendars: Iterable[Calendar]) -> dict[str, CalendarStatus]:
    """How each calendar (its connection loaded) is doing, by calendar id.

    The rules are the sync engine's (a layer above): they are read through the relations its
    models add to ``Calendar``, by name, as ``calendars.push`` does.
    """
    calendars = list(calendars)
    ids = [calendar.id for calendar in calendars]
    mine = Calendar.objects.filter(id__in=ids)
    read = set(mine.filter(rules_as_source__enabled=True).values_list("id", flat=True))
    written = set(mine.filter(rules_as_target__enabled=True).values_list("id", flat=True))
    in_rules = set(
        mine.filter(Q(rules_as_source__isnull=False) | Q(rules_as_target__isnull=False))
        .values_list("id", flat=True)
        .distinct()
    )
    activity = calendars_activity(ids)
    states = {c.id: _state(c, used=c.id in read or c.id in written) for c in calendars}
    return {
        str(calendar.id): CalendarStatus(
            calendar=calendar,
            state=states[calendar.id],
            # Its own failure; its account's is said once, with the account.
            error=calendar.error_text if states[calendar.id] == CalendarState.ERROR else "",
            activity=activity[str(calendar.id)],
            read=calendar.id in read,
            written=calendar.id in written,
            in_rules=calendar.id in in_rules,
        )
        for calendar in calendars
    }


def _state(calendar: Calendar, *, used: bool) -> CalendarState:
    # A broken account comes first (it fails booking pages too); an unused calendar's last error
    # is history, since nothing syncs it any more to clear it.
    status = calendar.connection.status
    if status in Connection.RELEASED:
        return CalendarState.RELEASED
    if status == Connection.Status.NEEDS_RECONNECT:
        return CalendarState.NEEDS_RECONNECT
    if not used:
        return CalendarState.UNUSED
    if calendar.last_error or status == Connection.Status.ERROR:
        return CalendarState.ERROR
    return CalendarState.WORKING


@dataclass(frozen=True, slots=True)
class NextSteps:
    """What to do after connecting: a sync rule (once there are two calendars), a booking page."""

    rule: bool
    page: bool
    connect_more: bool  # no rule yet, and one calendar: a rule needs two

    def __bool__(self) -> bool:
        return self.rule or self.page


def next_steps(user: User, *, calendar_count: int) -> NextSteps:
    """The steps the user has not taken yet. Rules and pages live in the layers above (syncrules,
    booking): they are read through their relations to the user, by name."""
    has_rules = user.sync_rules.exists()
    return NextSteps(
        rule=calendar_count >= 2 and not has_rules,
        page=not user.booking_pages.exists(),
        connect_more=calendar_count < 2 and not has_rules,
    )


def connections_needing_attention(user: User) -> list[Connection]:
    """Connections that stopped working: the ones the user must mend first, then passing errors."""
    broken = Connection.objects.filter(
        user=user, status__in=[Connection.Status.NEEDS_RECONNECT, Connection.Status.ERROR]
    )
    return sorted(broken, key=lambda c: (c.status != Connection.Status.NEEDS_RECONNECT, c.label))


def connection_secrets(connection: Connection) -> dict[str, str]:
    """The connection's decrypted secrets; keep the result in memory, and only as long as needed."""
    if not connection.secrets:
        return {}
    return vault.unseal_json(connection.secrets, context=vault.context_for(connection, "secrets"))


def provider_for_connection(connection: Connection) -> Provider:
    """The connection's provider; the owner's zone reads times a calendar leaves floating."""
    return build_provider(
        connection.provider_slug,
        {
            "server_url": connection.server_url,
            "username": connection.username,
            "time_zone": connection.user.time_zone,
            **connection_secrets(connection),
        },
    )
