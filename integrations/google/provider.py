"""Google Calendar (API v3) behind the provider contract.

Reads are ``events.list`` with ``singleEvents`` and ``showDeleted`` on: the first read is bounded
by the window, later ones pass only the sync token (Google refuses time bounds next to it), so
changes outside the window arrive too and the planner filters them. The cursor is
``{"sync_token": …}`` — a position, never content. A forgotten token (410) means a full read.
Event mapping is in ``events``, credentials, pacing and errors in ``client``.

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
    DEFAULT_BUSY_POLICY,
    BlockSpec,
    BusyPolicy,
    ChangeSet,
    Interval,
    MarkerKind,
    Provider,
    RemoteCalendar,
    RemoteEvent,
    Window,
    busy_intervals,
)
from integrations.google.client import GoogleAPIError, GoogleClient
from integrations.google.mapping import (
    MARKER_KEYS,
    block_body,
    block_event_id,
    is_cancelled,
    marker,
    to_remote_event,
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


def _sync_token(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        value = json.loads(cursor)
    except ValueError:
        return ""
    return str(value.get("sync_token", "")) if isinstance(value, dict) else ""
