"""Microsoft 365 and Outlook.com calendars through Microsoft Graph.

Secrets: ``token_cache`` (msal's serialized cache), ``home_account_id`` (or ``username``) to find
the account in it, and ``email``. A refresh changes the cache: when ``secrets_changed`` is true the
caller seals ``current_secrets()`` again. Ids are Graph's immutable ids; a calendar's remote id is
its Graph id. Changes come from ``calendarView/delta`` (the cursor is the whole deltaLink), where
the events we wrote are known by the transactionId their create set; push comes from Graph
subscriptions (``watch`` / ``renew`` / ``unwatch``). HTTP and its errors are in ``graph``, msal in
``auth``, the JSON mapping in ``mapping``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.utils import timezone

from integrations.base import (
    DEFAULT_BUSY_POLICY,
    BlockSpec,
    BusyPolicy,
    ChangeSet,
    Interval,
    MarkerKind,
    Provider,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    Window,
    busy_intervals,
)
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
                "Microsoft could not start a fresh read of the calendar; trying again later.",
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
            "Microsoft refused to create the event; trying again later.", permanent=False
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
            raise ProviderError("Microsoft did not say which event it created.", permanent=False)
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
                    "Microsoft ended a read without a link to continue from.", permanent=False
                )


def _calendar_path(calendar_id: str) -> str:
    return f"/me/calendars/{quote(calendar_id, safe='')}"


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
            "Microsoft could not confirm our notification address; trying again later.",
            permanent=False,
        )
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    message = error.get("message") if isinstance(error, dict) else None
    reason = message.strip()[:_GRAPH_MESSAGE_LENGTH] if isinstance(message, str) else ""
    return ProviderError(
        f"Microsoft refused the subscription: {reason or 'no reason given'}", permanent=False
    )


def _subscription(body: Mapping[str, Any]) -> tuple[str, datetime]:
    try:
        return str(body["id"]), mapping.parse_graph_datetime(str(body["expirationDateTime"]))
    except (KeyError, ValueError) as error:
        raise ProviderError(
            "Microsoft sent a subscription we could not read.", permanent=False
        ) from error
