"""The portfolio's writes of our own data: the user's preferences for showing their calendars
(actions on events go to the providers: ``portfolio.actions``)."""

from __future__ import annotations

from django.utils import timezone

from calendars.models import Calendar
from portfolio.models import CalendarPreference


def preference_update(
    *,
    calendar: Calendar,
    color: str | None = None,
    shown: bool | None = None,
    display_name: str | None = None,
    show_declined: bool | None = None,
    show_blocks: bool | None = None,
) -> CalendarPreference:
    """Change how the portfolio shows ``calendar``; None leaves a setting as it is, a colour of ""
    goes back to the provider's, and a display name of "" to the provider's name."""
    preference, _ = CalendarPreference.objects.get_or_create(calendar=calendar)
    changed = ["updated_at"]
    values = {
        "color": color.lower() if color is not None else None,
        "shown": shown,
        "display_name": display_name,
        "show_declined": show_declined,
        "show_blocks": show_blocks,
    }
    for name, value in values.items():
        if value is not None:
            setattr(preference, name, value)
            changed.append(name)
    preference.updated_at = timezone.now()
    preference.save(update_fields=changed)
    calendar.portfolio_preference = preference  # what the caller shows next is the new one
    return preference
