"""Acting on the user's own events from the portfolio: open one, create, change, delete, answer.

Every action goes straight to the provider and keeps nothing: the event's content is in memory for
one request, as when the portfolio reads it. After a change the calendar is announced as changed
(``calendars.signals.calendar_changed``), so its sync is queued at once and the blocks copied from
the event follow within seconds, and the busy time booking pages keep for it is forgotten.

Refusals come as ``ActionRefused`` (a read-only calendar, an account to reconnect, a block or a
booking's event, a scope the provider cannot do) or ``EventConflict`` (the event changed since the
panel read it); both carry plain words for the panel. An account whose authorization is gone is
recorded on the connection as a sync would, and the error raised for the view to show.

Each action takes a calendar its caller has found among the user's own
(``portfolio.selectors.get_calendar_for_user``, with its connection).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

from calendars import zoom_tokens
from calendars.models import Calendar, Connection
from calendars.selectors import provider_for_connection
from calendars.services import connection_keep_refreshed_secrets, connection_record_error
from calendars.signals import calendar_changed
from integrations.base import (
    ActionRefused,
    EditScope,
    EventActions,
    EventDetail,
    EventDraft,
    Provider,
    ProviderError,
    Response,
)
from integrations.zoom import client as zoom_client
from portfolio.selectors import calendar_writable
from syncrules.models import Block

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Said to the user who asked (``gettext`` where they are raised, in the request's language).
READ_ONLY = gettext_noop(
    "This calendar is read-only, so its events cannot be changed from Multical."
)
ICS_READ_ONLY = gettext_noop(
    "Events of an iCal link are read-only: change them where the calendar is kept."
)
RECONNECT = gettext_noop("This account needs to be reconnected before its events can be changed.")
NO_ZOOM = gettext_noop(
    "Zoom is not connected (or needs reconnecting): connect it on the Calendars page."
)


@dataclass(frozen=True, slots=True)
class Keeper:
    """What keeps an event that is not an ordinary one: a sync rule's block or a booking's event,
    with the page where the user can change it."""

    kind: str  # "block" or "booking"
    url: str
    label: str


@dataclass(frozen=True, slots=True)
class Opened:
    """An event as the panel shows it, with what may be done with it."""

    calendar: Calendar
    detail: EventDetail
    actions: EventActions | None
    keeper: Keeper | None

    @property
    def editable(self) -> bool:
        return self.actions is not None and self.keeper is None and calendar_writable(self.calendar)


def event_open(*, calendar: Calendar, event_id: str) -> Opened:
    """The event ``event_id`` of the calendar, read now from its provider."""
    _check_readable(calendar)
    provider, detail = _call(
        calendar, lambda provider: provider.get_event(calendar.remote_id, event_id)
    )
    return _opened(calendar, provider, detail)


def event_create(*, calendar: Calendar, draft: EventDraft, zoom: bool = False) -> Opened:
    """Write a new event into the calendar; with ``zoom``, a Zoom meeting (of the calendar's
    owner) is made first and its link goes into the event's location (and description); when the
    event cannot be written, the meeting is deleted again."""
    _check_writable(calendar)
    if not zoom:
        return _write(calendar, lambda provider: provider.create_event(calendar.remote_id, draft))
    client, meeting_id, with_link = _with_zoom_meeting(calendar.connection.user_id, draft)
    try:
        return _write(
            calendar, lambda provider: provider.create_event(calendar.remote_id, with_link)
        )
    except ProviderError:
        # No event carries the meeting's link: left at Zoom, it would be one no one can find.
        # (A write whose answer was lost, a timeout, may have landed with the link: rarer than a
        # refusal or an outage answered, and the event then says where the meeting was.)
        try:
            client.delete_meeting(meeting_id)
        except ProviderError as error:
            logger.info("Portfolio: a Zoom meeting without its event remains: %s", error.message)
        raise


def event_update(
    *,
    calendar: Calendar,
    event_id: str,
    draft: EventDraft,
    scope: EditScope = EditScope.THIS,
    etag: str = "",
) -> Opened:
    """Change an event (moved, resized or edited); ``scope`` for a recurring one."""
    _check_writable(calendar)
    return _write(
        calendar,
        lambda provider: provider.update_event(
            calendar.remote_id, event_id, draft, scope=scope, etag=etag
        ),
    )


def event_move(
    *,
    calendar: Calendar,
    event_id: str,
    start: datetime,
    end: datetime,
    scope: EditScope = EditScope.THIS,
    etag: str = "",
) -> Opened:
    """New times for an event (dragged or resized); the rest of it stays as it is."""
    _check_writable(calendar)
    return _write(
        calendar,
        lambda provider: provider.move_event(
            calendar.remote_id, event_id, start, end, scope=scope, etag=etag
        ),
    )


def event_remove(
    *,
    calendar: Calendar,
    event_id: str,
    scope: EditScope = EditScope.THIS,
    etag: str = "",
) -> None:
    """Delete an event (``scope`` for a recurring one)."""
    _check_writable(calendar)
    _call(
        calendar,
        lambda provider: provider.remove_event(
            calendar.remote_id, event_id, scope=scope, etag=etag
        ),
    )
    _changed(calendar)


def event_reply(*, calendar: Calendar, event_id: str, response: Response) -> Opened:
    """Answer an invitation (accepted, tentative or declined), for this event."""
    if response not in (Response.ACCEPTED, Response.TENTATIVE, Response.DECLINED):
        raise ValueError(f"Not an answer: {response}")
    _check_writable(calendar)
    return _write(calendar, lambda provider: provider.reply(calendar.remote_id, event_id, response))


def _check_readable(calendar: Calendar) -> None:
    connection = calendar.connection
    if connection.kind == Connection.Kind.ZOOM or connection.status in Connection.RELEASED:
        raise ActionRefused(gettext("This calendar is not connected any more."))
    if not connection.is_usable or not connection.secrets:
        raise ActionRefused(gettext(RECONNECT))


def _check_writable(calendar: Calendar) -> None:
    _check_readable(calendar)
    if not calendar_writable(calendar):
        is_link = calendar.connection.kind == Connection.Kind.ICS
        raise ActionRefused(gettext(ICS_READ_ONLY if is_link else READ_ONLY))


def _write(calendar: Calendar, action: Callable[[Provider], EventDetail]) -> Opened:
    """Carry out a change, announce the calendar as changed, and say what the event is now."""
    provider, detail = _call(calendar, action)
    _changed(calendar)
    return _opened(calendar, provider, detail)


def _call(calendar: Calendar, action: Callable[[Provider], T]) -> tuple[Provider, T]:
    """Run ``action`` with the calendar's provider; what it refreshed is sealed again, and an
    authorization gone for good is shown on the connection."""
    connection = calendar.connection
    provider = provider_for_connection(connection)
    try:
        return provider, action(provider)
    except ActionRefused:
        raise
    except ProviderError as error:
        if error.permanent:
            connection_record_error(connection=connection, error=error)
        logger.info("Portfolio: an action on calendar %s failed: %s", calendar.id, error.message)
        raise
    finally:
        connection_keep_refreshed_secrets(connection=connection, provider=provider)


def _opened(calendar: Calendar, provider: Provider, detail: EventDetail) -> Opened:
    return Opened(
        calendar=calendar,
        detail=detail,
        actions=provider.event_actions(),
        keeper=_keeper(calendar, detail),
    )


def _keeper(calendar: Calendar, detail: EventDetail) -> Keeper | None:
    """The rule whose block this is, or the booking whose event it is (the user's own only)."""
    event = detail.event
    user_id = calendar.connection.user_id
    if event.block_id:
        block_id = _uuid(event.block_id)
        block = (
            Block.objects.filter(id=block_id, target_calendar__connection__user_id=user_id)
            .select_related("rule")
            .first()
            if block_id is not None
            else None
        )
        if block is None or block.rule is None:
            return Keeper("block", reverse("syncrules:rule_list"), gettext("a sync rule"))
        return Keeper(
            "block", reverse("syncrules:rule_detail", args=[block.rule.id]), block.rule.name
        )
    if event.booking_id:
        # The booking's own page says whose it is (and 404s anyone else): portfolio does not
        # read booking's tables (they are siblings in the layers).
        booking_id = _uuid(event.booking_id)
        url = (
            reverse("booking:booking_detail", args=[booking_id])
            if booking_id is not None
            else reverse("booking:booking_list")
        )
        return Keeper("booking", url, gettext("a booking made on your booking page"))
    return None


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def _changed(calendar: Calendar) -> None:
    calendar_changed.send(sender=Calendar, calendar_id=str(calendar.id))


def _with_zoom_meeting(
    user_id: UUID, draft: EventDraft
) -> tuple[zoom_client.ZoomClient, str, EventDraft]:
    """A Zoom meeting made for the draft (timed events only): the client that made it, its id,
    and the draft with its join link."""
    if draft.all_day:
        raise ActionRefused(gettext("A Zoom meeting needs a start time: give the event one."))
    connection = (
        Connection.objects.usable().filter(user_id=user_id, kind=Connection.Kind.ZOOM).first()
    )
    if connection is None or not connection.secrets:
        raise ActionRefused(gettext(NO_ZOOM))
    client = zoom_tokens.client_for_connection(connection)
    minutes = max(1, int((draft.end - draft.start) / timedelta(minutes=1)))
    try:
        meeting = client.create_meeting(
            topic=draft.title or "Meeting",
            start=draft.start,
            duration_minutes=minutes,
            time_zone=draft.time_zone,
        )
    except ProviderError as error:
        if error.message in (zoom_client.REFUSED, zoom_tokens.NOT_CONNECTED):
            connection_record_error(connection=connection, error=error)
        raise
    description = "\n\n".join(
        part for part in (draft.description, f"Join Zoom: {meeting.join_url}") if part
    )
    return (
        client,
        meeting.id,
        EventDraft(
            title=draft.title,
            start=draft.start,
            end=draft.end,
            all_day=False,
            time_zone=draft.time_zone,
            location=meeting.join_url,
            description=description,
        ),
    )
