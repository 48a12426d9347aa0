from __future__ import annotations

from django.db import models
from django.utils import timezone

from calendars.models import Calendar


class CalendarPreference(models.Model):
    """How the portfolio shows one calendar: its colour, and whether it is shown at all.

    A calendar without a row is shown in the colour its provider gave it. A hidden calendar is not
    even read from its provider.
    """

    calendar = models.OneToOneField(
        Calendar, on_delete=models.CASCADE, related_name="portfolio_preference"
    )
    # "#rrggbb", or "" for the provider's colour.
    color = models.CharField(max_length=7, blank=True)
    shown = models.BooleanField(default=True)
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
