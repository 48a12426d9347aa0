from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict

from django import forms

from integrations.base import Window

# Six weeks: a month view; one hour more for a daylight-saving change inside it.
MAX_RANGE = timedelta(days=42, hours=1)
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


class PreferenceChanges(TypedDict):
    color: str | None
    shown: bool | None


class PreferenceForm(forms.Form):
    """A calendar's colour and visibility; a field left out of the request is left as it is."""

    color = forms.RegexField(
        regex=r"^(#[0-9a-fA-F]{6})?$",
        required=False,
        error_messages={"invalid": "Choose a colour as #rrggbb."},
    )
    shown = forms.TypedChoiceField(
        choices=[("1", "Shown"), ("0", "Hidden")],
        coerce=lambda value: value == "1",
        required=False,
        empty_value=None,
    )

    def changes(self) -> PreferenceChanges:
        """The settings to change, as ``preference_update`` takes them: None for those left out."""
        return PreferenceChanges(
            color=self.cleaned_data["color"] if "color" in self.data else None,
            shown=self.cleaned_data["shown"] if "shown" in self.data else None,
        )


class RangeError(ValueError):
    """A range the events endpoint refuses; the message is for the caller."""


def parse_range(start: str | None, end: str | None) -> Window:
    """The window between two ISO 8601 instants (with an offset or Z), at most six weeks."""
    window = Window(_instant(start, "start"), _instant(end, "end"))
    if window.end <= window.start:
        raise RangeError("end must be after start.")
    if window.end - window.start > MAX_RANGE:
        raise RangeError("The range can be at most 42 days.")
    return window


def _instant(value: str | None, name: str) -> datetime:
    if not value:
        raise RangeError(f"{name} is required: an ISO 8601 date and time with a UTC offset.")
    try:
        # An unencoded "+" of an offset arrives as a space.
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise RangeError(f"{name} is not an ISO 8601 date and time.") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RangeError(f"{name} needs a UTC offset (Z or +hh:mm).")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise RangeError(f"{name} is out of range.") from None
    if not EARLIEST <= moment <= LATEST:
        raise RangeError(f"{name} is out of range.")
    return moment
