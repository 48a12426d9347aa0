"""Reads for the portfolio page: the user's calendars as the portfolio shows them."""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import get_object_or_404

from accounts.models import User
from calendars.models import Calendar, Connection
from integrations.registry import provider_class
from portfolio.models import CalendarPreference

# For calendars whose provider gives no colour; readable on light and dark backgrounds alike.
PALETTE = ("#3b5bdb", "#2b8a3e", "#c2255c", "#e8590c", "#7048e8", "#0c8599", "#5c940d", "#a61e4d")


@dataclass(frozen=True, slots=True)
class PortfolioCalendar:
    calendar: Calendar
    color: str
    shown: bool
    preference: CalendarPreference

    @property
    def writable(self) -> bool:
        """Whether events can be written into it from the portfolio (iCal links and calendars
        shared read-only cannot)."""
        return calendar_writable(self.calendar)

    @property
    def scopes(self) -> list[str]:
        """How a repeating event of this calendar can be changed (``EditScope`` values): what
        its provider offers, nothing where the calendar cannot be written."""
        actions = provider_class(self.calendar.connection.provider_slug).event_actions()
        if actions is None or not self.writable:
            return []
        return sorted(scope.value for scope in actions.scopes)

    @property
    def id(self) -> str:
        return str(self.calendar.id)

    @property
    def name(self) -> str:
        return calendar_label(self.calendar)

    @property
    def provider_name(self) -> str:
        return self.calendar.name

    @property
    def account(self) -> str:
        connection = self.calendar.connection
        return f"{connection.kind_label} · {connection.label}"


def get_calendar_for_user(user: User, calendar_id: object) -> Calendar:
    """The user's calendar (404 for anyone else's), with what acting on it and showing it read:
    its connection and owner (the provider's settings) and the user's preference."""
    return get_object_or_404(
        Calendar.objects.select_related("connection__user", "portfolio_preference"),
        id=calendar_id,
        connection__user=user,
    )


def portfolio_calendars(user: User) -> list[PortfolioCalendar]:
    """Every calendar the portfolio can show, hidden ones included, with its colour."""
    calendars = (
        Calendar.objects.filter(connection__user=user)
        .exclude(connection__status__in=Connection.RELEASED)
        .exclude(connection__kind=Connection.Kind.ZOOM)
        .select_related("connection", "portfolio_preference")
        .order_by("connection__created_at", "connection_id", "name", "id")
    )
    found = []
    for calendar in calendars:
        preference = _preference(calendar)
        found.append(
            PortfolioCalendar(calendar, calendar_color(calendar), preference.shown, preference)
        )
    return found


def calendar_color(calendar: Calendar) -> str:
    """The colour the user chose, else the provider's, else one of ours that stays the same."""
    return _preference(calendar).color or calendar.color or PALETTE[calendar.id.int % len(PALETTE)]


def calendar_writable(calendar: Calendar) -> bool:
    """Whether events can be written into it from the portfolio: not an iCal link, not shared
    read-only. The one test the page and ``portfolio.actions`` both use."""
    return not calendar.read_only and calendar.connection.kind != Connection.Kind.ICS


def calendar_label(calendar: Calendar) -> str:
    """The calendar's name in the portfolio: the user's own for it, else the provider's."""
    return _preference(calendar).display_name or calendar.name


def _preference(calendar: Calendar) -> CalendarPreference:
    try:
        return calendar.portfolio_preference
    except CalendarPreference.DoesNotExist:
        return CalendarPreference(calendar=calendar)
