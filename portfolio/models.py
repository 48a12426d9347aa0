from __future__ import annotations

from django.db import models
from django.utils import timezone

from calendars.models import Calendar


class CalendarPreference(models.Model):
    """How the portfolio shows one calendar: its colour and name, whether it is shown at all, and
    whether its declined invitations and the blocks sync wrote into it are.

    A calendar without a row is shown in the colour its provider gave it. A hidden calendar is not
    even read from its provider.
    """

    calendar = models.OneToOneField(
        Calendar, on_delete=models.CASCADE, related_name="portfolio_preference"
    )
    # "#rrggbb", or "" for the provider's colour.
    color = models.CharField(max_length=7, blank=True)
    shown = models.BooleanField(default=True)
    # The user's own name for the calendar in the portfolio ("" for the provider's name).
    display_name = models.CharField(max_length=200, blank=True)
    # Invitations the user declined: shown dimmed, or left out.
    show_declined = models.BooleanField(default=True)
    # The blocks sync rules wrote into the calendar: left out unless asked for, then shown apart,
    # labelled with their rule, and never editable as ordinary events.
    show_blocks = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(color="") | models.Q(color__regex=r"^#[0-9a-f]{6}$"),
                name="portfolio_preference_color_hex",
            ),
        ]

    def __str__(self) -> str:
        return f"preference for calendar {self.calendar_id}"
