from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, TypedDict

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from integrations.base import EditScope, EventDraft, Response, Window

# Six weeks: a month view; one hour more for a daylight-saving change inside it.
MAX_RANGE = timedelta(days=42, hours=1)
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


class PreferenceChanges(TypedDict):
    color: str | None
    shown: bool | None
    display_name: str | None
    show_declined: bool | None
    show_blocks: bool | None


def _switch() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=[("1", "On"), ("0", "Off")],
        coerce=lambda value: value == "1",
        required=False,
        empty_value=None,
    )


class PreferenceForm(forms.Form):
    """How the portfolio shows a calendar: colour, visibility, a name of the user's own, declined
    invitations, the blocks sync wrote. A field left out of the request is left as it is."""

    color = forms.RegexField(
        regex=r"^(#[0-9a-fA-F]{6})?$",
        required=False,
        error_messages={"invalid": _("Choose a colour as #rrggbb.")},
    )
    shown = _switch()
    display_name = forms.CharField(max_length=200, required=False, strip=True)
    show_declined = _switch()
    show_blocks = _switch()

    def changes(self) -> PreferenceChanges:
        """The settings to change, as ``preference_update`` takes them: None for those left out."""

        def sent(name: str) -> Any:
            return self.cleaned_data[name] if name in self.data else None

        return PreferenceChanges(
            color=sent("color"),
            shown=sent("shown"),
            display_name=sent("display_name"),
            show_declined=sent("show_declined"),
            show_blocks=sent("show_blocks"),
        )


class RangeError(ValueError):
    """A range the events endpoint refuses; the message is for the caller."""


def parse_range(start: str | None, end: str | None) -> Window:
    """The window between two ISO 8601 instants (with an offset or Z), at most six weeks."""
    window = Window(_instant(start, "start"), _instant(end, "end"))
    if window.end <= window.start:
        raise RangeError("end must be after start.")
    if window.end - window.start > MAX_RANGE:
        raise RangeError(gettext("The range can be at most 42 days."))
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


# Long enough for any title or note people write; the providers' own limits are higher.
TITLE_MAX, LOCATION_MAX, DESCRIPTION_MAX = 500, 1000, 8000
# An event of the portfolio lasts at most this long (a multi-week all-day event is fine).
LONGEST_EVENT = timedelta(days=366)


class EventRefForm(forms.Form):
    """Which event of the calendar in the address: its id there, as the portfolio's feed named it."""

    event = forms.CharField(max_length=2000)


class EventForm(forms.Form):
    """An event as the portfolio's panel sends it: what ``EventDraft`` holds, checked.

    Timed events give ``start`` and ``end`` as ISO 8601 instants with an offset and the zone they
    were written in; all-day events give dates (``end``: the last day, as people say it).
    """

    title = forms.CharField(max_length=TITLE_MAX, required=False, strip=True)
    all_day = forms.BooleanField(required=False)
    start = forms.CharField(max_length=40)
    end = forms.CharField(max_length=40)
    time_zone = forms.CharField(max_length=64, required=False)
    location = forms.CharField(max_length=LOCATION_MAX, required=False, strip=True)
    description = forms.CharField(max_length=DESCRIPTION_MAX, required=False, strip=False)
    zoom = forms.BooleanField(required=False)

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"] or "UTC"
        if zone not in _zone_names():
            raise forms.ValidationError(_("Choose a time zone from the list."))
        return str(zone)

    def clean(self) -> dict[str, object]:
        super().clean()
        data = self.cleaned_data
        span = None if self.errors else _span(self, data, end_is_last_day=True)
        if span is None:
            return data
        start, end = span
        data["draft"] = EventDraft(
            title=data["title"],
            start=start,
            end=end,
            all_day=data["all_day"],
            time_zone=data["time_zone"],
            location=data["location"],
            description=data["description"],
        )
        return data


class ChangeForm(EventForm):
    """A change to an event: which one, the instances of a recurring one it applies to, and the
    version the panel read (so a change made meanwhile elsewhere is not overwritten)."""

    event = forms.CharField(max_length=2000)
    scope = forms.TypedChoiceField(
        choices=[(scope.value, scope.value) for scope in EditScope],
        coerce=EditScope,
        required=False,
        empty_value=EditScope.THIS,
    )
    etag = forms.CharField(max_length=500, required=False)


class MoveForm(EventRefForm):
    """New times for an event, dragged or resized: instants for a timed event, dates for an
    all-day one (``end``: the day after the last, as the calendar grid gives it)."""

    all_day = forms.BooleanField(required=False)
    start = forms.CharField(max_length=40)
    end = forms.CharField(max_length=40)
    scope = ChangeForm.base_fields["scope"]
    etag = forms.CharField(max_length=500, required=False)

    def clean(self) -> dict[str, object]:
        super().clean()
        data = self.cleaned_data
        span = None if self.errors else _span(self, data, end_is_last_day=False)
        if span is not None:
            data["start"], data["end"] = span
        return data


class RemoveForm(EventRefForm):
    scope = ChangeForm.base_fields["scope"]
    etag = forms.CharField(max_length=500, required=False)


class ReplyForm(EventRefForm):
    response = forms.TypedChoiceField(
        choices=[
            (Response.ACCEPTED.value, "Yes"),
            (Response.TENTATIVE.value, "Maybe"),
            (Response.DECLINED.value, "No"),
        ],
        coerce=Response,
    )


def _span(
    form: forms.Form, data: dict[str, object], *, end_is_last_day: bool
) -> tuple[datetime, datetime] | None:
    """``start`` and ``end`` as instants, or for an all-day event as midnight-UTC dates with the
    end the day after the last (``end_is_last_day``: the form gave the last day, as people say
    it; otherwise the day after, as the calendar grid does). None once a field error is added."""
    try:
        if data["all_day"]:
            first, last = _date(str(data["start"]), "start"), _date(str(data["end"]), "end")
            start = datetime.combine(first, time(), UTC)
            end = datetime.combine(last + timedelta(days=1 if end_is_last_day else 0), time(), UTC)
            if end <= start:
                form.add_error("end", gettext("The last day cannot be before the first."))
                return None
        else:
            start, end = _instant(str(data["start"]), "start"), _instant(str(data["end"]), "end")
            if end <= start:
                form.add_error("end", gettext("The end must be after the start."))
                return None
    except RangeError as error:
        form.add_error("start" if str(error).startswith("start") else "end", str(error))
        return None
    if end - start > LONGEST_EVENT:
        form.add_error("end", gettext("An event can last at most a year."))
        return None
    return start, end


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() | {"UTC"})


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RangeError(f"{name} is not a date (YYYY-MM-DD).") from None
