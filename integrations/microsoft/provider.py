"""Microsoft 365 and Outlook.com calendars through Microsoft Graph.

Secrets: ``token_cache`` (msal's serialized cache), ``home_account_id`` (or ``username``) to find
the account in it, and ``email``. A refresh changes the cache: when ``secrets_changed`` is true the
caller seals ``current_secrets()`` again. Ids are Graph's immutable ids; a calendar's remote id is
its Graph id. Changes come from ``calendarView/delta`` (the cursor is the whole deltaLink), where
the events we wrote are known by the transactionId their create set; push comes from Graph
subscriptions (``watch`` / ``renew`` / ``unwatch``). HTTP and its errors are in ``graph``, msal in
``auth``, the JSON mapping in ``mapping``. The user's own events (the portfolio) are read, written
and answered through their calendar's path, one instance or the whole series (Graph has no "this
and the following"), with ``If-Match`` on every change; our blocks and booking events are refused.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.utils import timezone

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
from integrations.microsoft import mapping
from integrations.microsoft.client import GraphClient, decode, error_code, error_for
from integrations.microsoft.credentials import Credentials
from integrations.push import channel_secret

# The answers to a delta link Graph no longer knows: read everything again.
_STALE_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}
# Graph's answer to a create whose transactionId was used for another event in the mailbox.
_DUPLICATE_TRANSACTION = "ErrorDuplicateTransactionId"
# How many transactionIds one write tries when Graph says each is used and no block carries it.
CREATE_ATTEMPTS = 3
# Graph's answer to a subscription whose address did not answer its validation request.
_VALIDATION_FAILED = "ValidationError"
_GRAPH_MESSAGE_LENGTH = 200
# The longest subscription to Outlook events that Graph documents: 4,230 minutes, the figure of the
# subscription resource's reference and of Graph's own refusal ("Subscription expiration can only
# be 4230 minutes in the future"); later pages give 10,080. Asking for more than the smaller is a
# 400, and renewals a day ahead make the difference worth nothing.
SUBSCRIPTION_MAX_MINUTES = 4230

# The user's own events (the portfolio). The words are shown to the user; none holds content.
FOLLOWING_REFUSED = gettext_noop(
    "Outlook cannot change only this and the following events; change this one or all."
)
EVENT_GONE = gettext_noop("This event is no longer in its calendar at Microsoft.")
CALENDAR_GONE = gettext_noop("This calendar no longer exists at Microsoft.")
WRITE_REFUSED = gettext_noop(
    "Microsoft refused the change: this calendar or event is read-only for you."
)
REQUEST_REFUSED = gettext_noop("Microsoft refused this change to the event.")
ORGANIZER_REPLY = gettext_noop("You organise this event, so there is no invitation to answer.")
NO_ANSWER = gettext_noop("Only accepted, tentative or declined can be sent as an answer.")
# Graph's answer to a write whose If-Match no longer names the event's version (412), and the
# same Exchange error as it has been seen with a 409.
_CHANGE_KEY_CONFLICT = "ErrorIrresolvableConflict"
_REPLY_ACTIONS = {
    Response.ACCEPTED: "accept",
    Response.TENTATIVE: "tentativelyAccept",
    Response.DECLINED: "decline",
}


class MicrosoftProvider(Provider):
    slug = "microsoft"

    def __init__(self, *, credentials: Credentials, email: str = "") -> None:
        self._credentials = credentials
        self.email = email
        mailbox = credentials.home_account_id or credentials.username or email
        self._graph = GraphClient(
            base_url=settings.MICROSOFT_GRAPH_URL,
            mailbox=mailbox,
            access_token=credentials.access_token,
        )

    @classmethod
    def from_secrets(
        cls, secrets: Mapping[str, str], *, http_client: Any = None
    ) -> MicrosoftProvider:
        """``http_client`` is msal's transport to the identity platform (default: ``auth``'s)."""
        email = secrets.get("email", "")
        credentials = Credentials(
            token_cache=secrets.get("token_cache", ""),
            home_account_id=secrets.get("home_account_id", ""),
            username=secrets.get("username", "") or email,
            http_client=http_client,
        )
        return cls(credentials=credentials, email=email)

    @property
    def secrets_changed(self) -> bool:
        """True when msal refreshed a token since the secrets were read (or last taken)."""
        return self._credentials.changed

    def current_secrets(self) -> dict[str, str]:
        return {
            "token_cache": self._credentials.serialize(),
            "home_account_id": self._credentials.home_account_id,
            "email": self.email,
        }

    @property
    def request_count(self) -> int:
        """Graph requests sent so far (token refreshes not included)."""
        return self._graph.request_count

    def close(self) -> None:
        self._graph.close()

    def account_address(self) -> str:
        """The account's address as Graph's ``/me`` gives it (what ``User.Read`` is asked for): its
        mailbox (``mail``), else its user principal name, lowercased; "" when Graph names neither.

        The id token's ``preferred_username`` is no substitute: for a work account it is the name
        the person signs in with, which need not be an address anyone receives mail at.
        """
        me = self._graph.json("GET", "/me", params={"$select": "mail,userPrincipalName"})
        for field in ("mail", "userPrincipalName"):
            value = me.get(field)
            if isinstance(value, str) and "@" in value:
                return value.strip().lower()
        return ""

    def list_calendars(self) -> list[RemoteCalendar]:
        params = {"$select": "id,name,hexColor,color,canEdit", "$top": "100"}
        return [
            mapping.remote_calendar(item)
            for page in self._graph.pages("/me/calendars", params=params)
            for item in page.get("value") or []
        ]

    def changes(self, calendar_id: str, cursor: str, window: Window) -> ChangeSet:
        """A delta round from the stored deltaLink, or a full one over ``window``.

        The deltaLink keeps the window of the full read that started it, so the window moves on
        only at the next full read.
        """
        delta_link = _delta_link(cursor)
        if delta_link and self._graph.owns(delta_link):
            read = self._delta_round(delta_link)
            if read is not None:
                return _change_set(*read, full=False)
        params = {
            "startDateTime": mapping.graph_datetime(window.start),
            "endDateTime": mapping.graph_datetime(window.end),
        }
        read = self._delta_round(f"{_calendar_path(calendar_id)}/calendarView/delta", params)
        if read is None:
            raise ProviderError(
                gettext_noop(
                    "Microsoft could not start a fresh read of the calendar; trying again later."
                ),
                permanent=False,
            )
        return _change_set(*read, full=True)

    def busy(
        self, calendar_ids: Sequence[str], window: Window, policy: BusyPolicy = DEFAULT_BUSY_POLICY
    ) -> list[Interval]:
        """Busy time from the events of the window (calendarView), weighed by ``policy``."""
        return busy_intervals(
            (
                event
                for calendar_id in calendar_ids
                for event in self._instances(calendar_id, window)
            ),
            window,
            policy,
        )

    # Blocks ---------------------------------------------------------------------------------

    def put_block(self, calendar_id: str, spec: BlockSpec, remote_id: str | None = None) -> str:
        """Update the event, or create one (also when the one to update is gone).

        Each create carries a transactionId naming the block (``mapping.transaction_id``), so
        delta reads know the event for ours from the instant it exists, and a create sent again
        (the answer to the first was lost, or a timeout gave up on a request that still lands
        later) is refused or answered with the first event instead of making a second. When Graph
        refuses the transactionId as used, the block is looked up and updated; when there is none
        (the event made with it was deleted since), the create is sent with the next one.
        """
        if remote_id and self._update(remote_id, spec):
            return remote_id
        # None, or deleted at Microsoft meanwhile (someone removed our block): put it back.
        replacing = remote_id or ""
        for attempt in range(CREATE_ATTEMPTS):
            created = self._create(calendar_id, spec, replacing=replacing, attempt=attempt)
            if created is not None:
                return created
            existing = self.find_block(calendar_id, spec.block_id, kind=spec.kind)
            if existing and self._update(existing, spec):
                return existing
        raise ProviderError(
            gettext_noop("Microsoft refused to create the event; trying again later."),
            permanent=False,
        )

    def find_block(
        self, calendar_id: str, block_id: str, *, kind: MarkerKind = MarkerKind.BLOCK
    ) -> str | None:
        params = {"$filter": mapping.block_filter(block_id, kind), "$select": "id", "$top": "1"}
        found = self._graph.json("GET", f"{_calendar_path(calendar_id)}/events", params=params)
        for item in found.get("value") or []:
            if item.get("id"):
                return str(item["id"])
        return None

    def delete_event(self, calendar_id: str, remote_id: str) -> None:
        self._graph.request(
            "DELETE", f"/me/events/{quote(remote_id, safe='')}", write=True, accept=(404, 410)
        )

    # The user's own events ------------------------------------------------------------------

    @classmethod
    def event_actions(cls) -> EventActions:
        """One instance or the whole series: Graph has no "this and the following" edit."""
        return EventActions(scopes=frozenset({EditScope.THIS, EditScope.ALL}), replies=True)

    def get_event(self, calendar_id: str, event_id: str) -> EventDetail:
        return _detail(self._read_event(calendar_id, event_id))

    def create_event(self, calendar_id: str, draft: EventDraft) -> EventDetail:
        """POST an ordinary event, in the draft's zone (as a Windows zone name) or all-day."""
        created = self._write(
            "POST", f"{_calendar_path(calendar_id)}/events", mapping.new_event(draft)
        )
        if not created.get("id"):
            raise ProviderError(
                gettext_noop("Microsoft did not say which event it created."), permanent=False
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
        """THIS: PATCH the instance (an occurrence becomes an exception); ALL: PATCH the series
        master (``mapping.series_changes``), then read the instance again. Only what changed is
        sent, with ``If-Match`` (the etag given, or for the master the version just read)."""
        if scope == EditScope.FOLLOWING:
            raise ActionRefused(FOLLOWING_REFUSED)
        current = self._changeable(calendar_id, event_id, etag)
        return self._change(calendar_id, event_id, current, draft, scope, etag)

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
        """As ``update_event`` with the event's own content: one read and one PATCH of the times
        alone, where reading it for a draft first would cost a request more."""
        if scope == EditScope.FOLLOWING:
            raise ActionRefused(FOLLOWING_REFUSED)
        current = self._changeable(calendar_id, event_id, etag)
        draft = moved_draft(_detail(current).event, start, end)
        return self._change(calendar_id, event_id, current, draft, scope, etag)

    def _change(
        self,
        calendar_id: str,
        event_id: str,
        current: dict[str, Any],
        draft: EventDraft,
        scope: EditScope,
        etag: str,
    ) -> EventDetail:
        """``update_event`` on ``current``, just read by ``_changeable``."""
        master_id = _series_master(current) if scope == EditScope.ALL else ""
        if master_id:
            master = self._read_event(calendar_id, master_id)
            changes = mapping.series_changes(master, current, draft)
            if changes:
                self._write(
                    "PATCH",
                    _event_path(calendar_id, master_id),
                    changes,
                    etag=mapping.etag(master),
                )
            return self.get_event(calendar_id, event_id)
        changes = mapping.event_changes(current, draft)
        if not changes:
            return _detail(current)
        updated = self._write(
            "PATCH", _event_path(calendar_id, event_id), changes, etag=etag or mapping.etag(current)
        )
        return _detail(updated)

    def remove_event(
        self, calendar_id: str, event_id: str, *, scope: EditScope = EditScope.THIS, etag: str = ""
    ) -> None:
        """DELETE the instance (THIS) or its series master (ALL); one already gone is fine.
        Deleting a meeting the owner organises sends its cancellation to the attendees."""
        if scope == EditScope.FOLLOWING:
            raise ActionRefused(FOLLOWING_REFUSED)
        try:
            current = self._changeable(calendar_id, event_id, etag)
        except _EventGone:
            return
        master_id = _series_master(current) if scope == EditScope.ALL else ""
        target = master_id or event_id
        self._write(
            "DELETE",
            _event_path(calendar_id, target),
            None,
            etag="" if master_id else etag or mapping.etag(current),
            gone_is_fine=True,
        )

    def reply(self, calendar_id: str, event_id: str, response: Response) -> EventDetail:
        """POST accept / tentativelyAccept / decline on the instance. The answer is mailed to the
        organizer when they asked for answers (``responseRequested``); Graph refuses to mail one
        they did not ask for, and then it is only recorded in the calendar."""
        action = _REPLY_ACTIONS.get(response)
        if action is None:
            raise ActionRefused(NO_ANSWER)
        current = self._read_event(calendar_id, event_id)
        _refuse_ours(current)
        if current.get("isOrganizer", True):
            raise ActionRefused(ORGANIZER_REPLY)
        body = {"sendResponse": bool(current.get("responseRequested", True))}
        self._write("POST", f"{_event_path(calendar_id, event_id)}/{action}", body)
        try:
            return self.get_event(calendar_id, event_id)
        except ActionRefused:
            if response != Response.DECLINED:
                raise
        # Outlook takes a declined meeting out of the calendar: it was answered, and is gone.
        before = _detail(current)
        return dataclasses.replace(
            before,
            event=dataclasses.replace(before.event, response=Response.DECLINED),
            can_reply=False,
        )

    def _read_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        """The event (instance) as Graph has it now, with our block marker expanded."""
        response = self._graph.request(
            "GET",
            _event_path(calendar_id, event_id),
            params={"$expand": mapping.EXPAND_BLOCK_MARKER},
            accept=(400, 403, 404),
        )
        if response.status_code == 403:
            raise ActionRefused(WRITE_REFUSED)
        if response.status_code in (400, 404):
            # Graph answers an id it cannot read as a malformed id (400) or an unknown one (404).
            raise _EventGone(EVENT_GONE)
        return decode(response)

    def _changeable(self, calendar_id: str, event_id: str, etag: str) -> dict[str, Any]:
        """The event read now, when the user may change it: not one of ours, and (with ``etag``)
        still the version they saw."""
        current = self._read_event(calendar_id, event_id)
        _refuse_ours(current)
        if etag and mapping.etag(current) != etag:
            raise EventConflict()
        return current

    def _write(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        etag: str = "",
        gone_is_fine: bool = False,
    ) -> dict[str, Any]:
        """One write on the user's events, Graph's refusals turned into ``ActionRefused`` (auth,
        throttling and outages keep the connection's error mapping); the answer's body, if any."""
        response = self._graph.request(
            method,
            path,
            json=body,
            write=True,
            accept=(400, 403, 404, 409, 410, 412),
            headers={"If-Match": etag} if etag else None,
        )
        status = response.status_code
        if status == 412 or (status == 409 and error_code(response) == _CHANGE_KEY_CONFLICT):
            raise EventConflict()
        if status in (404, 410):
            if gone_is_fine:
                return {}
            raise ActionRefused(CALENDAR_GONE if method == "POST" else EVENT_GONE)
        if status == 403:
            raise ActionRefused(WRITE_REFUSED)
        if status in (400, 409):
            raise ActionRefused(REQUEST_REFUSED)
        return decode(response) if response.content else {}

    # Push -----------------------------------------------------------------------------------

    def watch(
        self, calendar_id: str, *, channel_id: str, address: str, lifecycle_address: str = ""
    ) -> tuple[str, datetime]:
        """Subscribe to the calendar's events; Graph first checks both addresses answer its
        validation request. Returns the subscription id and the expiry Graph granted."""
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "lifecycleNotificationUrl": lifecycle_address,
            "resource": f"/me/calendars/{calendar_id}/events",
            "expirationDateTime": _requested_expiry(),
            "clientState": channel_secret(channel_id),
        }
        response = self._graph.request("POST", "/subscriptions", json=body, accept=(400,))
        if response.status_code == 400:
            raise _subscription_refused(response)
        return _subscription(decode(response))

    def renew(self, subscription_id: str) -> datetime | None:
        """The new expiry, or None when Graph no longer knows the subscription (create another)."""
        response = self._graph.request(
            "PATCH",
            f"/subscriptions/{quote(subscription_id, safe='')}",
            json={"expirationDateTime": _requested_expiry()},
            accept=(400, 404),
        )
        if response.status_code == 404:
            return None
        if response.status_code == 400:
            raise _subscription_refused(response)
        return _subscription(decode(response))[1]

    def unwatch(self, channel_id: str, subscription_id: str) -> None:
        """Delete a subscription (Graph names it by its own id; ``channel_id`` is ours)."""
        self._graph.request(
            "DELETE", f"/subscriptions/{quote(subscription_id, safe='')}", accept=(404,)
        )

    def _update(self, remote_id: str, spec: BlockSpec) -> bool:
        """PATCH the event to ``spec`` (never its transactionId); False when it is gone."""
        response = self._graph.request(
            "PATCH",
            f"/me/events/{quote(remote_id, safe='')}",
            json=mapping.block_event(spec),
            write=True,
            accept=(404,),
        )
        return response.status_code != 404

    def _create(
        self, calendar_id: str, spec: BlockSpec, *, replacing: str, attempt: int
    ) -> str | None:
        """The id of the event created; None when Graph says the transactionId is used."""
        response = self._graph.request(
            "POST",
            f"{_calendar_path(calendar_id)}/events",
            json=mapping.new_block_event(spec, replacing=replacing, attempt=attempt),
            write=True,
            accept=(400,),
        )
        if response.status_code == 400:
            if error_code(response) == _DUPLICATE_TRANSACTION:
                return None
            raise error_for(response, write=True)
        created = decode(response)
        if not created.get("id"):
            raise ProviderError(
                gettext_noop("Microsoft did not say which event it created."), permanent=False
            )
        return str(created["id"])

    def _instances(self, calendar_id: str, window: Window) -> Iterator[RemoteEvent]:
        """The calendar's instances in ``window`` that are not cancelled (malformed ones left
        out), with what busy time weighs and the booking marker."""
        params = {
            "startDateTime": mapping.graph_datetime(window.start),
            "endDateTime": mapping.graph_datetime(window.end),
            "$select": "start,end,isAllDay,showAs,isCancelled,responseStatus",
            "$expand": mapping.EXPAND_BOOKING_MARKER,
            "$top": "500",
        }
        for page in self._graph.pages(f"{_calendar_path(calendar_id)}/calendarView", params=params):
            for item in page.get("value") or []:
                if mapping.is_cancelled(item):
                    continue
                try:
                    yield mapping.remote_event(item)
                except (KeyError, TypeError, ValueError):
                    continue

    def _delta_round(
        self, url: str, params: Mapping[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], str] | None:
        """Every item of a delta round and the deltaLink ending it; None when the link is stale."""
        items: list[dict[str, Any]] = []
        while True:
            response = self._graph.request("GET", url, params=params, accept=(400, 410))
            if response.status_code in (400, 410):
                if response.status_code == 410 or error_code(response).lower() in _STALE_CODES:
                    return None
                raise error_for(response, write=False)
            page = decode(response)
            items.extend(item for item in page.get("value") or [] if isinstance(item, dict))
            if next_link := page.get("@odata.nextLink"):
                url, params = str(next_link), None
            elif delta_link := page.get("@odata.deltaLink"):
                return items, str(delta_link)
            else:
                raise ProviderError(
                    gettext_noop("Microsoft ended a read without a link to continue from."),
                    permanent=False,
                )


class _EventGone(ActionRefused):
    """The event is not (or no longer) in the calendar."""


def _calendar_path(calendar_id: str) -> str:
    return f"/me/calendars/{quote(calendar_id, safe='')}"


def _event_path(calendar_id: str, event_id: str) -> str:
    # Through its calendar: a calendar shared with the owner lives in another mailbox, which
    # /me/events does not reach.
    return f"{_calendar_path(calendar_id)}/events/{quote(event_id, safe='')}"


def _series_master(item: Mapping[str, Any]) -> str:
    """The series master's id of an instance; "" for a single event (changed as a whole)."""
    master = item.get("seriesMasterId")
    return str(master) if item.get("type") in mapping.INSTANCE_TYPES and master else ""


def _refuse_ours(item: Mapping[str, Any]) -> None:
    """Blocks follow their source and booking events their booking: never changed from here."""
    if mapping.marker(item, MarkerKind.BLOCK):
        raise ActionRefused(BLOCK_REFUSED)
    if mapping.marker(item, MarkerKind.BOOKING):
        raise ActionRefused(BOOKING_REFUSED)


def _detail(item: Mapping[str, Any]) -> EventDetail:
    try:
        return mapping.event_detail(item)
    except (KeyError, TypeError, ValueError) as error:
        raise ProviderError(
            gettext_noop("Microsoft sent an event we could not read."), permanent=False
        ) from error


def _delta_link(cursor: str) -> str:
    try:
        value = json.loads(cursor).get("delta_link", "") if cursor else ""
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _change_set(items: Iterable[Mapping[str, Any]], delta_link: str, *, full: bool) -> ChangeSet:
    latest: dict[str, Mapping[str, Any] | None] = {}  # the last word on each id; None: gone
    skipped = 0
    for item in items:
        if not item.get("id"):
            skipped += 1
            continue
        # Graph sends an event moved out of the window as its id with null fields.
        gone = "@removed" in item or mapping.is_cancelled(item) or mapping.left_window(item)
        latest[str(item["id"])] = None if gone else item
    events: list[RemoteEvent] = []
    removed: list[str] = []
    for event_id, change in latest.items():
        if change is None:
            removed.append(event_id)
            continue
        try:
            events.append(mapping.remote_event(change))
        except (KeyError, TypeError, ValueError):
            skipped += 1
    return ChangeSet(
        events=events,
        next_cursor=json.dumps({"delta_link": delta_link}),
        full_resync=full,
        removed_ids=[] if full else removed,
        skipped=skipped,
    )


def subscription_minutes() -> int:
    """How long a subscription is asked for: ``MICROSOFT_SUBSCRIPTION_MINUTES``, never more than
    ``SUBSCRIPTION_MAX_MINUTES`` (Graph refuses a longer one with a 400) nor less than a minute."""
    return max(1, min(settings.MICROSOFT_SUBSCRIPTION_MINUTES, SUBSCRIPTION_MAX_MINUTES))


def _requested_expiry() -> str:
    return mapping.graph_datetime(timezone.now() + timedelta(minutes=subscription_minutes()))


def _subscription_refused(response: httpx.Response) -> ProviderError:
    """Graph's 400 to a subscription, for what it is: our address failed Graph's validation
    handshake, or Graph refused the request itself (its own words are kept, they name the field)."""
    if error_code(response) == _VALIDATION_FAILED:
        return ProviderError(
            gettext_noop(
                "Microsoft could not confirm our notification address; trying again later."
            ),
            permanent=False,
        )
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else None
    reason = message.strip()[:_GRAPH_MESSAGE_LENGTH] if isinstance(message, str) else ""
    if not reason:
        return ProviderError(
            gettext_noop("Microsoft refused the subscription and gave no reason."), permanent=False
        )
    # Graph's own words, in English: they name the field it refused.
    return ProviderError(
        gettext_noop("Microsoft refused the subscription: %(reason)s"),
        permanent=False,
        params={"reason": reason},
    )


def _subscription(body: Mapping[str, Any]) -> tuple[str, datetime]:
    try:
        return str(body["id"]), mapping.parse_graph_datetime(str(body["expirationDateTime"]))
    except (KeyError, ValueError) as error:
        raise ProviderError(
            gettext_noop("Microsoft sent a subscription we could not read."), permanent=False
        ) from error
