"""Reads for the owner's booking pages, profile and bookings.

Every lookup of a user's object goes through a helper that 404s anyone else: pages and bookings
by their owner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext

from accounts.models import User
from booking.availability import Draft, page_slots
from booking.handles import handle_in_use
from booking.models import Booking, BookingPage, Profile
from calendars.models import Calendar, Connection
from integrations.base import Window

# Lowercase letters and digits in groups joined by single hyphens ("--" separates an unlisted
# page's slug from its secret in public addresses).
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
HANDLE_MIN_LENGTH = 3
HANDLE_MAX_LENGTH = 40
# Handles that read like one of our own pages, or someone official, under /book/<handle>/.
RESERVED_HANDLES = frozenset(
    {
        "about", "account", "accounts", "admin", "administrator", "api", "app", "billing",
        "book", "booking", "bookings", "calendar", "calendars", "cancel", "dashboard", "help",
        "hooks", "login", "logout", "manage", "me", "multical", "new", "official", "portfolio",
        "privacy", "profile", "reschedule", "root", "rules", "security", "settings", "signup",
        "static", "staff", "support", "system", "terms", "www",
    }
)  # fmt: skip

BOOKING_VIEWS = ("upcoming", "past", "cancelled")


def get_page_for_user(user: User, page_id: object) -> BookingPage:
    return get_object_or_404(BookingPage, id=page_id, owner=user)


def get_booking_for_user(user: User, booking_id: object) -> Booking:
    return get_object_or_404(Booking.objects.select_related("page"), id=booking_id, owner=user)


def profile_for_user(user: User) -> Profile | None:
    return Profile.objects.filter(user=user).first()


def pages_for_user(user: User) -> QuerySet[BookingPage]:
    """The user's pages, oldest first, each with the number of its confirmed bookings to come."""
    upcoming = Q(bookings__status=Booking.Status.CONFIRMED, bookings__end__gt=timezone.now())
    return (
        BookingPage.objects.filter(owner=user)
        .annotate(upcoming_count=Count("bookings", filter=upcoming))
        .order_by("created_at", "id")
    )


def bookings_for_user(user: User, *, show: str, now: datetime | None = None) -> QuerySet[Booking]:
    """``upcoming`` (soonest first), ``past`` or ``cancelled`` (latest first) bookings."""
    now = now or timezone.now()
    bookings = Booking.objects.filter(owner=user).select_related("page")
    if show == "cancelled":
        return bookings.filter(status=Booking.Status.CANCELLED).order_by("-start")
    confirmed = bookings.filter(status=Booking.Status.CONFIRMED)
    if show == "past":
        return confirmed.filter(end__lte=now).order_by("-start")
    return confirmed.filter(end__gt=now).order_by("start")


def calendars_for_user(user: User) -> QuerySet[Calendar]:
    """Every calendar of the user's, whatever the provider, grouped by connection."""
    return (
        Calendar.objects.filter(connection__user=user)
        .exclude(connection__status=Connection.Status.REMOVING)
        .select_related("connection")
        .order_by("connection__created_at", "connection_id", "name")
    )


def writable_calendars_for_user(user: User) -> QuerySet[Calendar]:
    """The calendars bookings can be written to: not iCal links, not read-only."""
    return (
        calendars_for_user(user)
        .filter(read_only=False)
        .exclude(connection__kind=Connection.Kind.ICS)
    )


def zoom_connection_for_user(user: User) -> Connection | None:
    """The user's Zoom connection if meetings can be created with it now."""
    return Connection.objects.filter(
        user=user, kind=Connection.Kind.ZOOM, status__in=Connection.USABLE
    ).first()


def handle_problem(handle: str) -> str | None:
    """Why ``handle`` cannot be anyone's public handle (uniqueness aside), or None."""
    if not HANDLE_MIN_LENGTH <= len(handle) <= HANDLE_MAX_LENGTH:
        return gettext("Use %(low)s to %(high)s characters.") % {
            "low": HANDLE_MIN_LENGTH,
            "high": HANDLE_MAX_LENGTH,
        }
    if not SLUG_PATTERN.fullmatch(handle):
        return gettext(
            "Use lowercase letters, digits and single hyphens, starting and ending with a "
            "letter or a digit."
        )
    if handle in RESERVED_HANDLES:
        return gettext("“%(handle)s” is reserved. Choose another handle.") % {"handle": handle}
    return None


def handle_taken(handle: str, *, user: User) -> bool:
    """Another person's handle, or an organization's (one namespace: ``booking.handles``)."""
    return handle_in_use(handle, user_id=user.id)


def suggested_handle(user: User) -> str:
    """A free handle made from the local part of the user's e-mail address."""
    local = re.sub(r"[\W_]+", " ", user.email.split("@", 1)[0])
    base = "-".join(re.findall(r"[a-z0-9]+", slugify(local)))[: HANDLE_MAX_LENGTH - 4].strip("-")
    if len(base) < HANDLE_MIN_LENGTH or base in RESERVED_HANDLES:
        base = f"{base}-meets" if base else "my-meetings"
    candidate, number = base, 1
    while handle_taken(candidate, user=user):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def suggested_display_name(user: User) -> str:
    local = user.email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in re.split(r"[._+-]+", local) if part)[:120]


def public_profile_path(profile: Profile) -> str:
    return reverse("booking_public:profile", kwargs={"handle": profile.handle})


def public_page_path(page: BookingPage, *, handle: str | None = None) -> str:
    """The page's public address: its slug when listed, slug and secret when unlisted."""
    handle = handle or page.owner.booking_profile.handle
    return reverse("booking_public:page", kwargs={"handle": handle, "slug": page.public_slug})


@dataclass(frozen=True, slots=True)
class SlotDay:
    day: date
    slots: list[datetime]  # aware, in the zone the days were cut in


@dataclass(frozen=True, slots=True)
class SlotPreview:
    days: list[SlotDay]
    unreadable: list[Calendar]
    start: datetime
    end: datetime
    duration: int


def slot_preview(
    page: BookingPage,
    *,
    duration: int,
    days: int = 7,
    start: datetime | None = None,
    now: datetime | None = None,
    rescheduling: Booking | None = None,
    draft: Draft | None = None,
) -> SlotPreview:
    """The slots ``page`` offers for ``duration`` minutes over ``days`` days, by day in its zone.

    When a calendar cannot be read, no slot is offered (``unreadable`` names the calendars).
    ``rescheduling`` leaves that booking's own time out of the busy time. ``draft``: ``page`` is
    unsaved (the page form's preview), with these overrides and chosen calendars.
    """
    now = now or timezone.now()
    start = max(start or now, now)
    zone = ZoneInfo(page.time_zone)
    # To the end of the last day, in the page's zone.
    last_day = start.astimezone(zone).date() + timedelta(days=days)
    end = datetime.combine(last_day, time(0), tzinfo=zone).astimezone(UTC)
    result = page_slots(
        page,
        now=now,
        window=Window(start, end),
        duration=duration,
        rescheduling=rescheduling,
        draft=draft,
    )
    local = [slot.astimezone(zone) for slot in result.slots]
    grouped = [
        SlotDay(day=day, slots=list(slots))
        for day, slots in groupby(local, key=lambda slot: slot.date())
    ]
    return SlotPreview(
        days=[] if result.unreadable else grouped,
        unreadable=list(result.unreadable),
        start=start,
        end=end,
        duration=duration,
    )
