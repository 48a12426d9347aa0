"""The GDPR data export: everything Multical keeps about one user, as one JSON document.

What the user gave us comes back in it, their host picture included: the picture is the image as
we keep it (the small WebP square ``booking.pictures`` made of the upload, with no metadata), in
the document itself as base64, so the export stays one file that any JSON reader opens:
``booking_profile.picture`` is ``{"content_type", "sha256", "updated_at", "data_base64"}``, or null
without a picture. Errors are given in English, with their values filled in.

Never in it: credentials (the sealed fields, passwords, OAuth tokens, iCal links, which are secrets
since anyone holding one can read the calendar; webhook signing secrets, and the query of a
webhook's address, which may hold the receiver's own token), the secrets of booking links, sync
cursors and push channel ids. Connections and calendars are exported field by field from an allow-list, so a
credential added to those models later stays out unless someone lists it here.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db.models import Model
from django.utils import timezone, translation

from accounts.models import AuditLog, User
from booking.models import Booking, BookingPage, Profile, ProfilePicture
from booking.pictures import CONTENT_TYPE as PICTURE_CONTENT_TYPE
from calendars.models import Calendar, Connection, LastError
from syncrules.models import Block, SyncRule
from webhooks.models import WebhookSubscription

# 1.2: the host picture, in ``booking_profile``. 1.3: ``webhooks``.
FORMAT_VERSION = "1.3"

CONNECTION_FIELDS = ["id", "kind", "label", "username", "status", "last_error_at"]
CALENDAR_FIELDS = ["id", "name", "color", "time_zone", "read_only", "last_synced_at"]
BLOCK_FIELDS = [
    "id",
    "rule_id",
    "source_calendar_id",
    "source_event_id",
    "source_series_id",
    "target_calendar_id",
    "target_event_id",
    "state",
    "start",
    "end",
    "all_day",
    "updated_at",
]
BOOKING_FIELDS = [
    "id",
    "page_id",
    "title",
    "start",
    "end",
    "status",
    "attendee_name",
    "attendee_email",
    "attendee_time_zone",
    "answers",
    "location",
    "location_detail",
    "zoom_meeting_id",
    "meeting_url",
    "calendar_id",
    "remote_event_id",
    "cancelled_at",
    "cancelled_by",
    "cancel_reason",
    "created_at",
]
WEBHOOK_FIELDS = [
    "id",
    "events",
    "active",
    "paused_reason",
    "paused_at",
    "last_success_at",
    "created_at",
]
# Every option of a rule or a page; only the owner link and the unlisted page's secret are left out.
RULE_FIELDS = [f.attname for f in SyncRule._meta.concrete_fields if f.name != "user"]
PAGE_FIELDS = [
    f.attname for f in BookingPage._meta.concrete_fields if f.name not in {"owner", "secret"}
]


def account_export(*, user: User) -> dict[str, Any]:
    """The user's data, ready for ``DjangoJSONEncoder`` (times in UTC, ISO 8601)."""
    return {
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now(),
        "account": _pick(
            user, ["id", "email", "email_verified_at", "time_zone", "date_joined", "last_login"]
        ),
        "notification_preferences": {
            "reconnect_alerts": user.notify_reconnect_alerts,
            "booking_emails": user.notify_booking_emails,
            "sync_alerts": user.notify_sync_alerts,
        },
        "consents": [
            _pick(consent, ["kind", "granted", "document_version", "recorded_at"])
            for consent in user.consents.order_by("recorded_at", "pk")
        ],
        "connections": _connections(user),
        "sync_rules": _rules(user),
        "blocks": [
            _pick(block, BLOCK_FIELDS)
            for block in Block.objects.filter(target_calendar__connection__user=user).order_by(
                "start", "id"
            )
        ],
        "booking_profile": _booking_profile(user),
        "booking_pages": _booking_pages(user),
        "bookings": [
            _pick(booking, BOOKING_FIELDS)
            for booking in Booking.objects.filter(owner=user).order_by("start", "id")
        ],
        "webhooks": [
            {
                **_pick(subscription, WEBHOOK_FIELDS),
                "url": _without_credentials(subscription.url),
            }
            for subscription in WebhookSubscription.objects.filter(user=user).order_by(
                "created_at", "id"
            )
        ],
        "audit_log": [
            {
                "action": entry.action,
                "description": entry.get_action_display(),
                **_pick(entry, ["ip_address", "metadata", "created_at"]),
            }
            for entry in AuditLog.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }


def _pick(instance: Model, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in names}


def _without_credentials(url: str) -> str:
    """A server's address without a user name, password, query or fragment that could carry one."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _connections(user: User) -> list[dict[str, Any]]:
    connections = Connection.objects.filter(user=user).prefetch_related("calendars")
    return [
        {
            **_pick(connection, CONNECTION_FIELDS),
            "last_error": _in_english(connection),
            "server_url": _without_credentials(connection.server_url),
            "created_at": connection.created_at,
            "calendars": [_calendar(calendar) for calendar in connection.calendars.all()],
        }
        for connection in connections.order_by("created_at", "id")
    ]


def _calendar(calendar: Calendar) -> dict[str, Any]:
    return {
        **_pick(calendar, CALENDAR_FIELDS),
        "remote_id": _without_credentials(calendar.remote_id),
        "last_error": _in_english(calendar),
        "last_error_at": calendar.last_error_at,
    }


def _in_english(row: LastError) -> str:
    """The last error as the export gives it: English, with its values (the page shows it in the
    reader's language)."""
    with translation.override("en"):
        return row.error_text


def _rules(user: User) -> list[dict[str, Any]]:
    rules = SyncRule.objects.filter(user=user).prefetch_related("sources", "targets")
    return [
        {
            **_pick(rule, RULE_FIELDS),
            "sources": sorted(str(calendar.id) for calendar in rule.sources.all()),
            "targets": sorted(str(calendar.id) for calendar in rule.targets.all()),
        }
        for rule in rules.order_by("created_at", "id")
    ]


def _booking_profile(user: User) -> dict[str, Any] | None:
    profile = Profile.objects.filter(user=user).first()
    if profile is None:
        return None
    return {**_pick(profile, ["handle", "display_name"]), "picture": _picture(profile)}


def _picture(profile: Profile) -> dict[str, Any] | None:
    picture = ProfilePicture.objects.filter(profile=profile).first()
    if picture is None:
        return None
    return {
        "content_type": PICTURE_CONTENT_TYPE,
        "sha256": profile.picture_digest,
        "updated_at": picture.updated_at,
        "data_base64": base64.b64encode(bytes(picture.image)).decode("ascii"),
    }


def _booking_pages(user: User) -> list[dict[str, Any]]:
    pages = BookingPage.objects.filter(owner=user).prefetch_related(
        "busy_calendars", "questions", "date_overrides"
    )
    return [
        {
            **_pick(page, PAGE_FIELDS),
            "busy_calendars": sorted(str(calendar.id) for calendar in page.busy_calendars.all()),
            "questions": [
                _pick(question, ["label", "kind", "required", "position"])
                for question in page.questions.all()
            ],
            "date_overrides": [
                _pick(override, ["date", "hours"]) for override in page.date_overrides.all()
            ],
        }
        for page in pages.order_by("created_at", "id")
    ]
