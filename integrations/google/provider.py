"""Google Calendar (API v3) behind the provider contract.

Reads are ``events.list`` with ``singleEvents`` and ``showDeleted`` on: the first read is bounded
by the window, later ones pass only the sync token (Google refuses time bounds next to it), so
changes outside the window arrive too and the planner filters them. The cursor is
``{"sync_token": …}`` — a position, never content. A forgotten token (410) means a full read.
Event mapping is in ``events``, credentials, pacing and errors in ``client``.

The user's own events (from the portfolio) are read with ``events.get`` by the instance id that
``changes`` gave, and written with insert, patch and delete: one instance through its instance id,
a whole series through its master (``recurringEventId``), "this and following" by ending the
series with an UNTIL and continuing it as a new series. Every change first reads the event: blocks
and booking events (our markers) are refused, and an ``etag`` that no longer matches is an
``EventConflict``; the writes carry ``If-Match`` so a change made meanwhile is never overwritten.

After any call, ``secrets_changed`` says whether the access token was refreshed; the caller then
seals ``current_secrets()`` in place of the old ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.base import (
    BLOCK_REFUSED,
    BOOKING_REFUSED,
    DEFAULT_BUSY_POLICY,
    ActionRefused,
    BlockSpec,
    BusyPolicy,
    ChangeSet,
    EditScope,
    EventActions,
    EventConflict,
    EventDetail,
    EventDraft,
    Interval,
    MarkerKind,
    Provider,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    Response,
    Window,
    busy_intervals,
    moved_draft,
)
from integrations.choices import gettext_noop
from integrations.google.client import GoogleAPIError, GoogleClient
from integrations.google.mapping import (
    ANSWERS,
    MARKER_KEYS,
    SERIES_FIELDS,
    SKIPPED_EVENT_TYPES,
    block_body,
    block_event_id,
    continued_recurrence,
    draft_body,
    draft_changes,
    is_cancelled,
    marker,
    own_attendee,
    same_start,
    series_times,
    series_zone,
    to_detail,
    to_remote_event,
    trimmed_recurrence,
)
from integrations.push import channel_secret

logger = logging.getLogger(__name__)

PAGE_SIZE = 2500
# A partial response with what busy time is computed from: the times, status, transparency, the
# owner's answer, the event type (working locations and birthdays are never busy), the id the
# mapping needs, and the markers; no content.
BUSY_FIELDS = (
    "items(id,start,end,status,transparency,eventType,attendees(self,responseStatus),"
    "extendedProperties),nextPageToken"
)
WRITABLE_ROLES = frozenset({"owner", "writer"})

# Refusals of the user's actions, in plain words (shown to them).
READ_ONLY = gettext_noop("This calendar is read-only in Google Calendar.")
GONE = gettext_noop("This event is no longer in the calendar.")
NO_ACCESS = gettext_noop("Google Calendar does not let this account open this event.")
NOT_SHOWN = gettext_noop("This kind of Google Calendar event cannot be changed from Multical.")
ORGANIZER_ONLY = gettext_noop("Only the organizer can change this in Google Calendar.")
SPLIT_ORGANIZER_ONLY = gettext_noop(
    "Only the organizer can change this and the following events of this series."
)
NOT_INVITED = gettext_noop("You are not an invitee of this event, so there is no answer to send.")
REFUSED = gettext_noop("Google Calendar refused this change.")
UNREADABLE = gettext_noop("Google Calendar sent this event in a form we could not read.")
# A reply reads the event and writes it back with If-Match; a change landing in between (another
# guest's answer) is read again this many times before the conflict is the user's.
REPLY_ATTEMPTS = 3


class GoogleProvider(Provider):
    slug = "google"

    def __init__(self, client: GoogleClient) -> None:
        self._client = client

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str]) -> GoogleProvider:
        return cls(
            GoogleClient(
                refresh_token=secrets.get("refresh_token", ""),
                access_token=secrets.get("access_token", ""),
                expires_at=secrets.get("expires_at", ""),
                email=secrets.get("email", ""),
            )
        )

    @property
    def secrets_changed(self) -> bool:
        return self._client.secrets_changed

    def current_secrets(self) -> dict[str, str]:
        """The secrets as they are now (a refreshed access token and its expiry included)."""
        return self._client.current_secrets()

    @property
    def request_count(self) -> int:
        """API requests sent so far (token refreshes not included)."""
        return self._client.request_count

    def list_calendars(self) -> list[RemoteCalendar]:
        calendars = []
        for item in self._pages(self._api.calendarList().list, maxResults=250):
            if item.get("deleted"):
                continue
            color = str(item.get("backgroundColor", "")).lower()
            calendars.append(
                RemoteCalendar(
                    remote_id=item["id"],
                    name=item.get("summaryOverride") or item.get("summary") or item["id"],
                    color=color if len(color) == 7 and color.startswith("#") else "",
                    time_zone=item.get("timeZone", ""),
                    read_only=item.get("accessRole") not in WRITABLE_ROLES,
                )
            )
        return calendars

    def changes(self, calendar_id: str, cursor: str, window: Window) -> ChangeSet:
        sync_token = _sync_token(cursor)
        if sync_token:
            try:
                return self._read(calendar_id, {"syncToken": sync_token}, full=False)
            except GoogleAPIError as error:
                if error.status != 410:
                    raise
                logger.info("Google asked for a full sync (the sync token expired)")
        bounds = {
            "timeMin": window.start.astimezone(UTC).isoformat(),
            "timeMax": window.end.astimezone(UTC).isoformat(),
        }
        return self._read(calendar_id, bounds, full=True)

    def busy(
        self, calendar_ids: Sequence[str], window: Window, policy: BusyPolicy = DEFAULT_BUSY_POLICY
    ) -> list[Interval]:
        """Busy time from the events of the window: freebusy cannot tell tentative, free or
        all-day time apart, so the policy could not be applied to it."""
        events = (
            event for calendar_id in calendar_ids for event in self._events(calendar_id, window)
        )
        return busy_intervals(events, window, policy)

    # Blocks ---------------------------------------------------------------------------------

    def put_block(self, calendar_id: str, spec: BlockSpec, remote_id: str | None = None) -> str:
        """Insert with the id derived from the block id; an insert that meets an existing event
        (an earlier try got through, or the block was deleted — Google keeps deleted ids) updates
        it instead. An update of an event that is gone for good creates it again."""
        body = block_body(spec)
        if remote_id is not None:
            try:
                return self._update(calendar_id, remote_id, body)
            except GoogleAPIError as error:
                if error.status not in (404, 410):
                    raise
        event_id = block_event_id(spec.block_id, spec.kind)
        try:
            created = self._client.call(
                self._api.events().insert(
                    calendarId=calendar_id, body={**body, "id": event_id}, sendUpdates="none"
                )
            )
        except GoogleAPIError as error:
            if error.status != 409:
                raise
            return self._update(calendar_id, event_id, body)
        return str(created["id"])

    def find_block(
        self, calendar_id: str, block_id: str, *, kind: MarkerKind = MarkerKind.BLOCK
    ) -> str | None:
        try:
            item = self._client.call(
                self._api.events().get(
                    calendarId=calendar_id, eventId=block_event_id(block_id, kind)
                )
            )
        except GoogleAPIError as error:
            if error.status not in (404, 410):
                raise
        else:
            if not is_cancelled(item) and marker(item, kind) == block_id:
                return str(item["id"])
        # Not under its own id (written before ids were derived, or by another copy of us).
        for item in self._pages(
            self._api.events().list,
            calendarId=calendar_id,
            privateExtendedProperty=f"{MARKER_KEYS[kind]}={block_id}",
            maxResults=PAGE_SIZE,
        ):
            if not is_cancelled(item) and marker(item, kind) == block_id:
                return str(item["id"])
        return None

    def delete_event(self, calendar_id: str, remote_id: str) -> None:
        try:
            self._client.call(
                self._api.events().delete(
                    calendarId=calendar_id, eventId=remote_id, sendUpdates="none"
                )
            )
        except GoogleAPIError as error:
            if error.status not in (404, 410):  # 410: deleted already
                raise

    # The user's own events ---------------------------------------------------------------------

    @classmethod
    def event_actions(cls) -> EventActions:
        return EventActions(scopes=frozenset(EditScope), replies=True)

    def get_event(self, calendar_id: str, event_id: str) -> EventDetail:
        return _detail(self._read_event(calendar_id, event_id))

    def create_event(self, calendar_id: str, draft: EventDraft) -> EventDetail:
        """An ordinary event (no marker), timed in the draft's zone or all-day with dates; no
        guests, so nobody is told."""
        created = self._act(
            self._api.events().insert(
                calendarId=calendar_id, body=draft_body(draft), sendUpdates="none"
            )
        )
        return _detail(created)

    def update_event(
        self,
        calendar_id: str,
        event_id: str,
        draft: EventDraft,
        *,
        scope: EditScope = EditScope.THIS,
        etag: str = "",
    ) -> EventDetail:
        """THIS patches the instance (or single event) by its own id; ALL patches the series'
        master, whose start keeps its date and takes the draft's time of day and length; FOLLOWING
        ends the series before this instance and continues it as a new series from here. Guests
        are told (``sendUpdates=all``)."""
        item = self._changeable(calendar_id, event_id, etag)
        return self._change(calendar_id, item, draft, scope, etag)

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
        """As ``update_event`` with the event's own content: one read (the refusals, the series)
        and one patch, where reading it for a draft first would cost a request more."""
        item = self._changeable(calendar_id, event_id, etag)
        draft = moved_draft(_detail(item).event, start, end)
        return self._change(calendar_id, item, draft, scope, etag)

    def _change(
        self,
        calendar_id: str,
        item: dict[str, Any],
        draft: EventDraft,
        scope: EditScope,
        etag: str,
    ) -> EventDetail:
        """``update_event`` on ``item``, just read by ``_changeable``."""
        event_id = str(item["id"])
        series_id = item.get("recurringEventId")
        if not series_id or scope == EditScope.THIS:
            changed = self._act(
                self._api.events().patch(
                    calendarId=calendar_id,
                    eventId=event_id,
                    body=draft_changes(draft),
                    sendUpdates="all",
                ),
                etag,
            )
            return _detail(changed)
        master = self._read_event(calendar_id, str(series_id))
        zone = series_zone(master, draft.time_zone)
        if scope == EditScope.ALL or same_start(item["originalStartTime"], master["start"]):
            self._act(
                self._api.events().patch(
                    calendarId=calendar_id,
                    eventId=master["id"],
                    body=draft_changes(draft, series_times(master["start"], draft, zone)),
                    sendUpdates="all",
                ),
                master.get("etag", ""),
            )
            start, _ = series_times(item["originalStartTime"], draft, zone)
            return self._instance_at(calendar_id, master["id"], start)
        return self._split(calendar_id, item, master, draft, zone)

    def remove_event(
        self, calendar_id: str, event_id: str, *, scope: EditScope = EditScope.THIS, etag: str = ""
    ) -> None:
        """THIS deletes the instance (or single event), ALL the series' master; FOLLOWING ends
        the series before this instance. One already gone is not an error."""
        item = self._changeable_or_none(calendar_id, event_id, etag)
        if item is None:
            return
        series_id = item.get("recurringEventId")
        if not series_id or scope == EditScope.THIS:
            self._delete(calendar_id, event_id, etag)
            return
        master = self._read_event_or_none(calendar_id, str(series_id))
        if master is None:
            return
        if scope == EditScope.ALL or same_start(item["originalStartTime"], master["start"]):
            self._delete(calendar_id, master["id"], master.get("etag", ""))
            return
        self._end_series_before(calendar_id, master, item["originalStartTime"])

    def reply(self, calendar_id: str, event_id: str, response: Response) -> EventDetail:
        """Set the owner's ``responseStatus`` on this instance and tell the organizer.

        The whole attendee list is sent back (a patch replaces arrays), with If-Match: another
        guest's answer landing in between is read again rather than overwritten."""
        answer = ANSWERS.get(response)
        if answer is None:
            raise ValueError(f"No answer to send for {response!r}")
        attempt = 1
        while True:
            item = self._changeable(calendar_id, event_id, "")
            own = own_attendee(item)
            if own is None or own.get("organizer") or item.get("organizer", {}).get("self"):
                raise ActionRefused(NOT_INVITED)
            attendees = [
                {**attendee, "responseStatus": answer} if attendee.get("self") else attendee
                for attendee in item["attendees"]
            ]
            try:
                changed = self._act(
                    self._api.events().patch(
                        calendarId=calendar_id,
                        eventId=event_id,
                        body={"attendees": attendees},
                        sendUpdates="all",
                    ),
                    str(item.get("etag", "")),
                )
            except EventConflict:
                if attempt >= REPLY_ATTEMPTS:
                    raise
                attempt += 1
                continue
            return _detail(changed)

    # Push -------------------------------------------------------------------------------------

    def watch(
        self, calendar_id: str, *, channel_id: str, address: str, lifecycle_address: str = ""
    ) -> tuple[str, datetime]:
        """Open a push channel on the calendar's events; (resource id, expiry).

        The channel's token is derived from its id (``integrations.push``), so nothing secret is
        stored. Google has no renewal: open a new channel before expiry, then ``unwatch`` the old.
        """
        answer = self._client.call(
            self._api.events().watch(
                calendarId=calendar_id,
                body={
                    "id": channel_id,
                    "type": "web_hook",
                    "address": address,
                    "token": channel_secret(channel_id),
                },
            )
        )
        expiration = answer.get("expiration")
        if expiration:
            expires_at = datetime.fromtimestamp(int(expiration) / 1000, UTC)
        else:
            expires_at = datetime.now(UTC) + timedelta(days=1)
        return str(answer["resourceId"]), expires_at

    def unwatch(self, channel_id: str, resource_id: str) -> None:
        """Stop a channel; one Google no longer knows is stopped already."""
        try:
            self._client.call(
                self._api.channels().stop(body={"id": channel_id, "resourceId": resource_id})
            )
        except GoogleAPIError as error:
            if error.status != 404:
                raise

    # Internals --------------------------------------------------------------------------------

    @property
    def _api(self) -> Any:
        return self._client.service

    def _pages(self, method: Any, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page_token = None
        while True:
            answer = self._client.call(
                method(**params, pageToken=page_token) if page_token else method(**params)
            )
            items.extend(answer.get("items", []))
            page_token = answer.get("nextPageToken")
            if not page_token:
                return items

    def _read(self, calendar_id: str, params: dict[str, str], *, full: bool) -> ChangeSet:
        result = ChangeSet(events=[], next_cursor="", full_resync=full)
        request = self._api.events().list(
            calendarId=calendar_id,
            singleEvents=True,
            showDeleted=True,
            maxResults=PAGE_SIZE,
            **params,
        )
        sync_token = ""
        while request is not None:
            answer = self._client.call(request)
            for item in answer.get("items", []):
                self._take(result, item)
            # Only the last page carries the next sync token.
            sync_token = answer.get("nextSyncToken", sync_token)
            request = self._api.events().list_next(request, answer)
        result.next_cursor = json.dumps({"sync_token": sync_token}) if sync_token else ""
        return result

    def _events(self, calendar_id: str, window: Window) -> Iterator[RemoteEvent]:
        """The calendar's instances in ``window``, cancelled and malformed ones left out, each
        with only the fields ``busy`` weighs."""
        items = self._pages(
            self._api.events().list,
            calendarId=calendar_id,
            singleEvents=True,
            showDeleted=False,
            timeMin=window.start.astimezone(UTC).isoformat(),
            timeMax=window.end.astimezone(UTC).isoformat(),
            maxResults=PAGE_SIZE,
            fields=BUSY_FIELDS,
        )
        for item in items:
            if is_cancelled(item):
                continue
            try:
                event = to_remote_event(item)
            except (KeyError, ValueError, TypeError) as error:
                logger.info("Skipped a malformed Google event: %s", type(error).__name__)
                continue
            if event is not None:
                yield event

    @staticmethod
    def _take(result: ChangeSet, item: dict[str, Any]) -> None:
        if is_cancelled(item):
            # Cancelled instances carry ids only. A full read simply leaves them out.
            if not result.full_resync:
                result.removed_ids.append(item["id"])
                if "recurringEventId" not in item:
                    # A deleted single event, or a whole series: nothing of it is left.
                    result.replaced_series.add(item["id"])
            return
        try:
            event = to_remote_event(item)
        except (KeyError, ValueError, TypeError) as error:
            result.skipped += 1
            logger.info("Skipped a malformed Google event: %s", type(error).__name__)
            return
        if event is not None:
            result.events.append(event)

    def _read_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        """The event (instance) as Google has it now; one deleted is ``ActionRefused``."""
        item = self._read_event_or_none(calendar_id, event_id)
        if item is None:
            raise ActionRefused(GONE)
        return item

    def _read_event_or_none(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        try:
            item = self._client.call(
                self._api.events().get(calendarId=calendar_id, eventId=event_id)
            )
        except GoogleAPIError as error:
            if error.status in (404, 410):
                return None
            if error.status == 403 and error.permanent:
                raise ActionRefused(NO_ACCESS) from None
            raise
        return None if is_cancelled(item) else item

    def _changeable(self, calendar_id: str, event_id: str, etag: str) -> dict[str, Any]:
        item = self._changeable_or_none(calendar_id, event_id, etag)
        if item is None:
            raise ActionRefused(GONE)
        return item

    def _changeable_or_none(
        self, calendar_id: str, event_id: str, etag: str
    ) -> dict[str, Any] | None:
        """The event, read to be changed (None when it is gone): refused when it is ours, or
        when ``etag`` is given and no longer matches (``EventConflict``)."""
        item = self._read_event_or_none(calendar_id, event_id)
        if item is None:
            return None
        if marker(item):
            raise ActionRefused(BLOCK_REFUSED)
        if marker(item, MarkerKind.BOOKING):
            raise ActionRefused(BOOKING_REFUSED)
        if item.get("eventType") in SKIPPED_EVENT_TYPES:
            raise ActionRefused(NOT_SHOWN)
        if etag and item.get("etag") != etag:
            raise EventConflict()
        return item

    def _act(self, request: Any, etag: str = "") -> dict[str, Any]:
        """Run one request of a user's action, conditional on ``etag`` (If-Match) when given;
        Google's refusals in the user's terms (``_refusal``)."""
        if etag:
            request.headers["If-Match"] = etag
        try:
            return self._client.call(request)
        except GoogleAPIError as error:
            raise _refusal(error) from None

    def _delete(self, calendar_id: str, event_id: str, etag: str) -> None:
        request = self._api.events().delete(
            calendarId=calendar_id, eventId=event_id, sendUpdates="all"
        )
        if etag:
            request.headers["If-Match"] = etag
        try:
            self._client.call(request)
        except GoogleAPIError as error:
            if error.status not in (404, 410):  # gone already: what was asked
                raise _refusal(error) from None

    def _split(
        self,
        calendar_id: str,
        item: dict[str, Any],
        master: dict[str, Any],
        draft: EventDraft,
        zone: str,
    ) -> EventDetail:
        """This and following: a new series from this instance's date on, then the old series
        ended before it. The new series comes first, so a failure in between shows the events
        twice rather than losing them, and it is taken back when the old one cannot be ended."""
        if not master.get("organizer", {}).get("self") and master.get("attendees"):
            # The new series would be a new meeting of the owner's, inviting everyone again.
            raise ActionRefused(SPLIT_ORGANIZER_ONLY)
        original = item["originalStartTime"]
        start, end = series_times(original, draft, zone)
        body = {name: master[name] for name in SERIES_FIELDS if name in master}
        body.update(draft_body(draft))
        body.update(
            start=start,
            end=end,
            recurrence=continued_recurrence(master["recurrence"], master["start"], original),
        )
        created = self._act(
            self._api.events().insert(calendarId=calendar_id, body=body, sendUpdates="all")
        )
        try:
            self._end_series_before(calendar_id, master, original)
        except ProviderError:
            self._take_back(calendar_id, str(created["id"]))
            raise
        return self._instance_at(calendar_id, str(created["id"]), start)

    def _end_series_before(
        self, calendar_id: str, master: dict[str, Any], original_start: dict[str, Any]
    ) -> None:
        self._act(
            self._api.events().patch(
                calendarId=calendar_id,
                eventId=master["id"],
                body={"recurrence": trimmed_recurrence(master["recurrence"], original_start)},
                sendUpdates="all",
            ),
            str(master.get("etag", "")),
        )

    def _take_back(self, calendar_id: str, event_id: str) -> None:
        try:
            self._delete(calendar_id, event_id, "")
        except ProviderError as error:
            logger.warning(
                "Could not take back a new Google series after a failed split: %s",
                type(error).__name__,
            )

    def _instance_at(
        self, calendar_id: str, series_id: str, original_start: dict[str, Any]
    ) -> EventDetail:
        """The series' instance that starts at ``original_start`` as it is now (its first
        instance when that one is gone)."""
        wanted = original_start.get("date") or original_start["dateTime"]
        for params in ({"originalStart": wanted}, {}):
            answer = self._act(
                self._api.events().instances(
                    calendarId=calendar_id, eventId=series_id, maxResults=1, **params
                )
            )
            items = answer.get("items", [])
            if items:
                return _detail(items[0])
        raise ActionRefused(GONE)

    def _update(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> str:
        # A full replacement, confirmed: a block someone deleted in Google comes back.
        updated = self._client.call(
            self._api.events().update(
                calendarId=calendar_id,
                eventId=event_id,
                body={**body, "status": "confirmed"},
                sendUpdates="none",
            )
        )
        return str(updated["id"])


def _detail(item: dict[str, Any]) -> EventDetail:
    if is_cancelled(item):
        raise ActionRefused(GONE)
    try:
        detail = to_detail(item)
    except (KeyError, ValueError, TypeError) as error:
        logger.info("Could not read a Google event: %s", type(error).__name__)
        raise ActionRefused(UNREADABLE) from None
    if detail is None:
        raise ActionRefused(NOT_SHOWN)
    return detail


def _refusal(error: GoogleAPIError) -> ProviderError:
    """Google's answer to a change of one event, in the user's terms: refusals that concern only
    this event or calendar are ``ActionRefused``; authorization and throttling stay as they are."""
    if error.status == 412:
        return EventConflict()
    if error.status == 403 and error.reason == "forbiddenForNonOrganizer":
        return ActionRefused(ORGANIZER_ONLY)
    if error.status == 403 and error.permanent:  # not a rate limit
        return ActionRefused(READ_ONLY)
    if error.status in (404, 410):
        return ActionRefused(GONE)
    if error.status == 400:
        return ActionRefused(REFUSED)
    return error


def _sync_token(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        value = json.loads(cursor)
    except ValueError:
        return ""
    return str(value.get("sync_token", "")) if isinstance(value, dict) else ""
