"""The narrow contract every calendar provider implements, and the values that cross it.

Everything provider-specific stays in ``integrations/<slug>/``. The values below live in memory
only: a ``RemoteEvent`` carries event content (title, description, location, link) that must never
be written to the database, logs, task arguments or caches.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from integrations.choices import gettext_noop, in_english

# The iCalendar properties (and, translated, the provider fields) that mark the events we write:
# a block copied by a sync rule, and an event written for a booking made on one of our pages.
MARKER_PROPERTY = "X-MULTICAL-BLOCK-ID"
BOOKING_MARKER_PROPERTY = "X-MULTICAL-BOOKING-ID"


class MarkerKind(enum.StrEnum):
    """Which marker an event we write carries.

    A block is a copy: never a source, and reconciliation deletes the block-marked events it does
    not know. A booking event is a real event that sync rules copy and the portfolio shows, so its
    marker is a different one that nothing mistakes for a block's.
    """

    BLOCK = "block"
    BOOKING = "booking"


class EventStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Transparency(enum.StrEnum):
    BUSY = "busy"
    FREE = "free"


class Response(enum.StrEnum):
    """The calendar owner's own answer to an invitation; NONE when they are not an invitee."""

    NONE = "none"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    NEEDS_ACTION = "needs-action"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open span of aware datetimes: start <= t < end."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class RemoteCalendar:
    remote_id: str
    name: str
    color: str = ""  # "#rrggbb", or "" when the provider has none
    time_zone: str = ""  # an IANA name, or "" when the provider does not say
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """One instance of an event inside the sync window.

    ``id`` is stable for the instance across reads; ``series_id`` groups the instances of one
    recurring series (or is the id of a single event). Timed events have aware UTC ``start`` and
    ``end``. All-day events have ``all_day`` set and midnight-UTC datetimes that stand for dates
    (first day, day after the last): read them with ``.date()``, never shift them into a zone.
    """

    id: str
    series_id: str
    start: datetime
    end: datetime
    all_day: bool = False
    status: EventStatus = EventStatus.CONFIRMED
    transparency: Transparency = Transparency.BUSY
    response: Response = Response.NONE
    title: str = ""
    description: str = ""
    location: str = ""
    video_link: str = ""
    ical_uid: str = ""
    # The IANA zone a timed event was written in, where the provider says ("" otherwise).
    time_zone: str = ""
    # The block id from our block marker, when this event is a block we wrote.
    block_id: str = ""
    # The booking id from our booking marker, when we wrote this event for a booking (a real
    # event, not ``ours``).
    booking_id: str = ""

    @property
    def ours(self) -> bool:
        return bool(self.block_id)

    def __repr__(self) -> str:
        # Content stays out of reprs, so a logged or reported event cannot leak it.
        return f"RemoteEvent(id={self.id!r}, start={self.start:%Y-%m-%dT%H:%M}Z, ours={self.ours})"


@dataclass(slots=True)
class ChangeSet:
    """What changed in one calendar since a cursor.

    - ``full_resync``: ``events`` is every event in the window; anything else is gone.
    - otherwise ``events`` are new or changed instances, ``removed_ids`` instances that are gone,
      and for each id in ``replaced_series`` the events listed are that series' complete set of
      instances in the window (none listed: the whole series is gone).
    ``next_cursor`` is opaque and stored only after the changes are applied. ``skipped`` counts
    malformed items that were left out rather than failing the read.
    """

    events: list[RemoteEvent]
    next_cursor: str
    full_resync: bool = False
    removed_ids: list[str] = field(default_factory=list)
    replaced_series: set[str] = field(default_factory=set)
    skipped: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.full_resync or self.events or self.removed_ids or self.replaced_series)


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """An event we write, as the calendar should show it: a block already rendered by the rule's
    privacy, or (``kind`` BOOKING) a booking's event, whose ``block_id`` is the booking's id."""

    block_id: str
    start: datetime
    end: datetime
    all_day: bool
    title: str
    description: str = ""
    location: str = ""
    transparency: Transparency = Transparency.BUSY
    kind: MarkerKind = MarkerKind.BLOCK


class EditScope(enum.StrEnum):
    """Which instances of a recurring event a change or a deletion applies to."""

    THIS = "this"
    FOLLOWING = "following"  # this instance and every later one
    ALL = "all"


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An ordinary event as the user writes it in the portfolio: never a block, never marked.

    Timed events have aware ``start`` and ``end`` (any zone) and ``time_zone``, the IANA zone the
    user wrote them in, for providers that keep one with the event. All-day events have
    ``all_day`` set and midnight-UTC datetimes standing for dates (first day, day after the last),
    as in ``RemoteEvent``. Content: in memory only, like a ``RemoteEvent``'s.
    """

    title: str
    start: datetime
    end: datetime
    all_day: bool = False
    time_zone: str = "UTC"
    location: str = ""
    description: str = ""

    def __repr__(self) -> str:
        return f"EventDraft(start={self.start:%Y-%m-%dT%H:%M}, all_day={self.all_day})"


def moved_draft(event: RemoteEvent, start: datetime, end: datetime) -> EventDraft:
    """``event`` as a draft with new times (dragged or resized), its content as it is."""
    return EventDraft(
        title=event.title,
        start=start,
        end=end,
        all_day=event.all_day,
        time_zone=event.time_zone or "UTC",
        location=event.location,
        description=event.description,
    )


@dataclass(frozen=True, slots=True)
class EventActions:
    """What a provider can do with the user's own events, said where it cannot.

    ``scopes``: the ``EditScope`` values its recurring events can be changed and deleted with
    (a single event is always changed as a whole). ``replies``: whether it can send the owner's
    answer to an invitation; ``reply_note``, when it cannot, says why in plain words.
    """

    scopes: frozenset[EditScope]
    replies: bool
    reply_note: str = ""


@dataclass(frozen=True, slots=True)
class EventDetail:
    """One event (one instance, for a recurring one) read on demand, for the portfolio's panel.

    ``etag`` is the version read ("" when the provider has none): a change sent with it is
    refused with ``EventConflict`` if the event changed meanwhile. ``recurring``: an instance of
    a series. ``web_link``: the provider's own page for the event ("" when there is none).
    ``organizer``: the calendar's owner organises the event, so its changes are everyone's.
    ``can_reply``: the owner is an invitee and the provider can send their answer.
    """

    event: RemoteEvent
    etag: str = ""
    recurring: bool = False
    web_link: str = ""
    organizer: bool = True
    can_reply: bool = False


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime
    # An all-day event's span: midnight-UTC dates that stand for whole days wherever the owner is
    # (see RemoteEvent), for the caller to place in the owner's zone.
    all_day: bool = False
    # The provider's id of the event that makes the time busy (busy time read from events), so a
    # booking being moved can leave out its own event and the blocks copied from it.
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class BusyPolicy:
    """Which events keep time busy (a booking page's settings).

    Declined invitations and cancelled events never do; an event with none of the traits below
    always does. Each trait has its own switch, and an event counts only if every trait it has
    is switched on (an all-day event shown as free needs both ``all_day`` and ``free``).
    """

    # Tentative events, and invitations the owner answered "tentative".
    tentative: bool = True
    # Events shown as free.
    free: bool = False
    # All-day events.
    all_day: bool = True

    def counts(self, event: RemoteEvent) -> bool:
        if event.status == EventStatus.CANCELLED or event.response == Response.DECLINED:
            return False
        if event.all_day and not self.all_day:
            return False
        if event.transparency == Transparency.FREE and not self.free:
            return False
        tentative = event.status == EventStatus.TENTATIVE or event.response == Response.TENTATIVE
        return self.tentative or not tentative


# The defaults as one shared value, so signatures can name it (a frozen value: safe to share).
DEFAULT_BUSY_POLICY = BusyPolicy()


class ProviderError(Exception):
    """The one error a provider raises.

    ``permanent`` means retrying cannot help (revoked or wrong credentials, a calendar that no
    longer exists): the connection needs the user. Otherwise retry with backoff, waiting at least
    ``retry_after`` seconds when the provider said so. ``throttled`` marks the provider's own
    "slow down" (HTTP 429, or 503 from servers that throttle with it): the poller backs off the
    whole server, not just the calendar.

    The message is shown to the user, so it is plain words and never holds credentials or event
    content. It is written in English and marked with ``gettext_noop``; what varies (an HTTP
    status) is left out of it as ``%(name)s`` and given in ``params``. So ``msgid`` and ``params``
    can be stored as they are (a connection's last error) and shown later in each reader's language
    (``integrations.wording.error_text``); ``message`` is the English with the values filled in,
    for logs.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        params: Mapping[str, str | int] | None = None,
        throttled: bool = False,
    ) -> None:
        self.msgid = message
        self.params: dict[str, str | int] = dict(params or {})
        self.message = in_english(message, self.params)
        super().__init__(self.message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.throttled = throttled


# Every provider refuses to change our own events in place with these words: a block follows its
# source event, and a booking's event is moved or cancelled from the booking (which tells the
# attendee).
BLOCK_REFUSED = gettext_noop(
    "This is a block Multical keeps in step with its source; change the source event instead."
)
BOOKING_REFUSED = gettext_noop(
    "This event belongs to a booking made on your booking page; change or cancel the booking "
    "instead."
)


class ActionRefused(ProviderError):
    """The provider refused this action on this calendar or event (read-only, not allowed, no
    longer there), while the connection itself is fine: shown to the user, never recorded on the
    connection, and retrying the same action cannot help."""

    def __init__(self, message: str, *, params: Mapping[str, str | int] | None = None) -> None:
        super().__init__(message, permanent=False, params=params)


CHANGED_MEANWHILE = gettext_noop(
    "This event was changed in its calendar meanwhile; here it is now."
)
CANNOT_CHANGE = gettext_noop("This calendar cannot be changed from Multical.")


class EventConflict(ActionRefused):
    """The event changed in the calendar since it was read (its ETag no longer matches): read it
    again, show the user what it is now, and let them decide."""

    def __init__(self, message: str = CHANGED_MEANWHILE) -> None:
        super().__init__(message)


# How far a full read that takes several requests has got: called after each part but the last
# with the moment up to which the window is read (every event starting before it is in hand), so
# that a long first read can be shown while it goes on. It carries no event content.
ReadProgress = Callable[[datetime], None]


class Provider(abc.ABC):
    """One connected account at one provider."""

    slug: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> Provider:
        """Build the provider from the connection's decrypted secrets."""

    @abc.abstractmethod
    def list_calendars(self) -> list[RemoteCalendar]: ...

    @abc.abstractmethod
    def changes(self, calendar_id: str, cursor: str, window: Window) -> ChangeSet:
        """Changes since ``cursor`` ("" for a first, full read), instances expanded in ``window``."""

    def report_progress(self, progress: ReadProgress | None) -> None:
        """Have ``changes`` tell ``progress`` how far a full read has got (None: stop telling).
        Providers that read a calendar in one go keep this default and never call it."""
        return None

    @abc.abstractmethod
    def put_block(self, calendar_id: str, spec: BlockSpec, remote_id: str | None = None) -> str:
        """Create (``remote_id`` None) or update an event carrying the marker of ``spec.kind``;
        return its remote id. A block and a booking event with the same id are two events."""

    @abc.abstractmethod
    def find_block(
        self, calendar_id: str, block_id: str, *, kind: MarkerKind = MarkerKind.BLOCK
    ) -> str | None:
        """The remote id of the event carrying ``block_id`` in its marker of ``kind``, if one
        exists (a booking's event is never found as a block, nor the other way round)."""

    @abc.abstractmethod
    def delete_event(self, calendar_id: str, remote_id: str) -> None:
        """Delete an event we wrote; an event that is already gone is not an error."""

    @abc.abstractmethod
    def busy(
        self, calendar_ids: Sequence[str], window: Window, policy: BusyPolicy = DEFAULT_BUSY_POLICY
    ) -> list[Interval]:
        """The busy time of ``calendar_ids`` in ``window``: one interval per event instance that
        ``policy`` counts, clipped to the window, in time order, and NOT merged.

        Overlapping events overlap, and an event found in two of the calendars (an invitation)
        comes twice. The caller merges with ``merge_intervals``, after dropping what must not
        count: rescheduling a booking drops the intervals that are exactly the booking's own
        time. All-day events span their dates as midnight-UTC datetimes (see ``RemoteEvent``).
        A calendar that does not exist is a permanent ``ProviderError``.
        """

    # The user's own events, from the portfolio. Providers that cannot write (iCal links) keep
    # these defaults, which refuse.
    @classmethod
    def event_actions(cls) -> EventActions | None:
        """What this provider can do with the user's events; None: nothing (read-only). The
        same for every account of the provider, so a page can say it before any is read."""
        return None

    def get_event(self, calendar_id: str, event_id: str) -> EventDetail:
        """The event (instance) ``event_id`` as ``changes`` named it, read now.

        One that is gone is ``ActionRefused``."""
        raise ActionRefused(CANNOT_CHANGE)

    def create_event(self, calendar_id: str, draft: EventDraft) -> EventDetail:
        """Write a new ordinary event (no marker of ours); the provider's answer, read back."""
        raise ActionRefused(CANNOT_CHANGE)

    def update_event(
        self,
        calendar_id: str,
        event_id: str,
        draft: EventDraft,
        *,
        scope: EditScope = EditScope.THIS,
        etag: str = "",
    ) -> EventDetail:
        """Change an event (for a recurring one: the instances ``scope`` names) to ``draft``.

        For ``FOLLOWING`` and ``ALL`` only the time of day and length move with the draft (each
        instance keeps its own date); the title, location and description change for every
        instance named. With ``etag``, a changed event is refused with ``EventConflict``. A
        scope the provider cannot do is ``ActionRefused``. Returns the instance as it is now.
        """
        raise ActionRefused(CANNOT_CHANGE)

    def move_event(
        self,
        calendar_id: str,
        event_id: str,
        start: datetime,
        end: datetime,
        *,
        scope: EditScope = EditScope.THIS,
        etag: str = "",
    ) -> EventDetail:
        """Give an event new times (dragged or resized) and keep everything else as it is.

        This reads the event and writes it back changed; a provider that can change the times
        alone in one request does so instead. ``etag`` as for ``update_event``."""
        current = self.get_event(calendar_id, event_id)
        if etag and current.etag and etag != current.etag:
            raise EventConflict()
        return self.update_event(
            calendar_id,
            event_id,
            moved_draft(current.event, start, end),
            scope=scope,
            etag=etag or current.etag,
        )

    def remove_event(
        self, calendar_id: str, event_id: str, *, scope: EditScope = EditScope.THIS, etag: str = ""
    ) -> None:
        """Delete an event (for a recurring one: the instances ``scope`` names). One already
        gone is not an error; with ``etag``, a changed event is refused with ``EventConflict``."""
        raise ActionRefused(CANNOT_CHANGE)

    def reply(self, calendar_id: str, event_id: str, response: Response) -> EventDetail:
        """Send the owner's answer (accepted, tentative, declined) to an invitation, for this
        instance; ``ActionRefused`` where the provider cannot (``EventActions.reply_note``)."""
        raise ActionRefused(
            gettext_noop("Answers to invitations cannot be sent for this calendar.")
        )

    # Push (Google channels, Graph subscriptions); providers without it are polled.
    def watch(
        self, calendar_id: str, *, channel_id: str, address: str, lifecycle_address: str = ""
    ) -> tuple[str, datetime]:
        """Open a channel that notifies ``address`` of changes; (resource id, expiry)."""
        raise NotImplementedError(f"{self.slug} does not push")

    def renew(self, resource_id: str) -> datetime | None:
        """Extend a channel; None when it cannot be (no renewal call, or the channel is gone)."""
        return None

    def unwatch(self, channel_id: str, resource_id: str) -> None:
        """Stop a channel; one the provider no longer knows is stopped already."""
        raise NotImplementedError(f"{self.slug} does not push")

    @property
    def secrets_changed(self) -> bool:
        """True once the provider refreshed its own credentials (an OAuth access token)."""
        return False

    def current_secrets(self) -> dict[str, str]:
        """The secrets as they are now, for the caller to seal again when ``secrets_changed``."""
        return {}


def merge_intervals(spans: Iterable[Interval | tuple[datetime, datetime]]) -> list[Interval]:
    """Overlapping or touching spans joined, empty ones dropped, in time order."""
    merged: list[Interval] = []
    pairs = ((s.start, s.end) if isinstance(s, Interval) else s for s in spans)
    for start, end in sorted(pairs):
        if merged and start <= merged[-1].end:
            if end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, end)
        elif start < end:
            merged.append(Interval(start, end))
    return merged


def busy_intervals(
    events: Iterable[RemoteEvent], window: Window, policy: BusyPolicy = DEFAULT_BUSY_POLICY
) -> list[Interval]:
    """What ``Provider.busy`` returns for ``events``: one interval per event ``policy`` counts,
    clipped to ``window`` (nothing left of it: left out), in time order, not merged."""
    spans = []
    for event in events:
        start, end = max(event.start, window.start), min(event.end, window.end)
        if start < end and policy.counts(event):
            spans.append(Interval(start, end, event.all_day, event.id))
    return sorted(spans, key=lambda span: (span.start, span.end))
