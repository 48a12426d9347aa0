"""Writes of the portfolio: only the user's preferences for showing their calendars."""

from __future__ import annotations

from django.utils import timezone

from calendars.models import Calendar
from portfolio.models import CalendarPreference


def preference_update(
    *, calendar: Calendar, color: str | None = None, shown: bool | None = None
) -> CalendarPreference:
    """Change how the portfolio shows ``calendar``; None leaves a setting as it is, and a colour
    of "" goes back to the provider's."""
    preference, _ = CalendarPreference.objects.get_or_create(calendar=calendar)
    changed = ["updated_at"]
    if color is not None:
        preference.color = color.lower()
        changed.append("color")
    if shown is not None:
        preference.shown = shown
        changed.append("shown")
    preference.updated_at = timezone.now()
    preference.save(update_fields=changed)
    return preference
