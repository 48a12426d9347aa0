"""Connections and their calendars: names and state, never events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router

from api.auth import KeyAuth, key_of
from api.pagination import PageQuery, page
from api.problems import Problem
from api.schemas import Out
from api.scopes import Scope
from calendars.models import Calendar, Connection
from calendars.selectors import CalendarState, calendar_statuses, get_connection_for_user
from syncrules.selectors import calendars_for_user, get_calendar_for_user

router = Router(tags=["Calendars"])
_read = KeyAuth(Scope.CALENDARS_READ)


class ConnectionOut(Out):
    id: UUID
    provider: str
    label: str
    status: str
    needs_reconnect: bool
    created_at: datetime
    last_error: str | None


class ConnectionList(Out):
    items: list[ConnectionOut]
    next_cursor: str | None


class CalendarOut(Out):
    id: UUID
    connection_id: UUID
    provider: str
    name: str
    color: str
    time_zone: str
    read_only: bool
    state: str
    last_synced_at: datetime | None
    needs_reconnect: bool


class CalendarList(Out):
    items: list[CalendarOut]
    next_cursor: str | None


def _connection(connection: Connection) -> ConnectionOut:
    return ConnectionOut(
        id=connection.id,
        provider=connection.kind,
        label=connection.label,
        status=connection.status,
        needs_reconnect=connection.status == Connection.Status.NEEDS_RECONNECT,
        created_at=connection.created_at,
        last_error=connection.error_text or None,
    )


def _calendars(calendars: list[Calendar]) -> list[CalendarOut]:
    statuses = calendar_statuses(calendars)
    return [
        CalendarOut(
            id=calendar.id,
            connection_id=calendar.connection_id,
            provider=calendar.connection.kind,
            name=calendar.name,
            color=calendar.color,
            time_zone=calendar.time_zone,
            read_only=calendar.read_only,
            state=str(statuses[str(calendar.id)].state),
            last_synced_at=calendar.last_synced_at,
            needs_reconnect=statuses[str(calendar.id)].state == CalendarState.NEEDS_RECONNECT,
        )
        for calendar in calendars
    ]


@router.get("/connections", response=ConnectionList, auth=_read, summary="List connections")
def list_connections(request: HttpRequest, query: Query[PageQuery]) -> ConnectionList:
    user = key_of(request).user
    rows, cursor = page(
        Connection.objects.filter(user=user),
        query,
        order="created_at",
        descending=False,
        scope="connections",
    )
    return ConnectionList(items=[_connection(row) for row in rows], next_cursor=cursor)


@router.get(
    "/connections/{connection_id}",
    response={200: ConnectionOut, 404: Problem},
    auth=_read,
    summary="One connection",
)
def get_connection(request: HttpRequest, connection_id: UUID) -> ConnectionOut:
    return _connection(get_connection_for_user(key_of(request).user, str(connection_id)))


@router.get("/calendars", response=CalendarList, auth=_read, summary="List calendars")
def list_calendars(request: HttpRequest, query: Query[PageQuery]) -> CalendarList:
    user = key_of(request).user
    rows, cursor = page(
        calendars_for_user(user), query, order="name", descending=False, scope="calendars"
    )
    return CalendarList(items=_calendars(rows), next_cursor=cursor)


@router.get(
    "/calendars/{calendar_id}",
    response={200: CalendarOut, 404: Problem},
    auth=_read,
    summary="One calendar",
)
def get_calendar(request: HttpRequest, calendar_id: UUID) -> CalendarOut:
    return _calendars([get_calendar_for_user(key_of(request).user, str(calendar_id))])[0]
