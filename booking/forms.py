from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.forms.formsets import DELETION_FIELD_NAME
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify

from accounts.models import User
from booking.models import BookingPage, Question
from booking.selectors import owner as selectors
from booking.services.pages import PageSettings, QuestionSpec
from calendars.models import Calendar
from syncrules.forms import (
    WEEKDAYS,
    CalendarCheckboxes,
    CalendarsField,
    limit_calendars,
    weekdays_from,
)

# What a new page starts with: Monday to Friday, 09:00 to 17:00.
DEFAULT_WEEKLY_HOURS = {str(day): [[9 * 60, 17 * 60]] for day in range(1, 6)}
DEFAULT_DURATIONS = [30]
DURATION_MIN, DURATION_MAX, DURATIONS_MAX = 5, 480, 10
# The page's own settings, as PageForms.cleaned_data carries them (dates and questions aside).
HOURS_EXAMPLE = "09:00-12:00, 13:00-17:00"
_RANGE = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?\s*[-\u2013\u2014]\s*(\d{1,2})(?:[:.h](\d{2}))?")
_PHONE = re.compile(r"\+?[\d\s().-]+")


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_hours(ranges: list[list[int]]) -> str:
    return ", ".join(f"{format_minutes(start)}-{format_minutes(end)}" for start, end in ranges)


def parse_hours(text: str, *, where: str) -> list[list[int]]:
    """ "09:00-12:00, 13:00-17:00" → [[540, 720], [780, 1020]]; blank → [] (no hours).

    Ranges that touch are joined; reversed or overlapping ones are refused, naming ``where``.
    """
    ranges: list[list[int]] = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        match = _RANGE.fullmatch(part)
        if not match:
            raise forms.ValidationError(
                f"{where}: “{part}” is not a range of hours. Write them like {HOURS_EXAMPLE}."
            )
        start = _minutes(match[1], match[2], where=where, end=False)
        end = _minutes(match[3], match[4], where=where, end=True)
        if end <= start:
            raise forms.ValidationError(
                f"{where}: {format_minutes(start)}-{format_minutes(end)} ends before it starts."
            )
        ranges.append([start, end])
    ranges.sort()
    joined: list[list[int]] = []
    for start, end in ranges:
        if joined and start < joined[-1][1]:
            before = joined[-1]
            raise forms.ValidationError(
                f"{where}: {format_minutes(before[0])}-{format_minutes(before[1])} and "
                f"{format_minutes(start)}-{format_minutes(end)} overlap."
            )
        if joined and start == joined[-1][1]:
            joined[-1][1] = end
        else:
            joined.append([start, end])
    return joined


def _minutes(hour: str, minute: str | None, *, where: str, end: bool) -> int:
    value = int(hour) * 60 + int(minute or 0)
    if int(minute or 0) > 59 or value > 24 * 60 or (value == 24 * 60 and not end):
        raise forms.ValidationError(
            f"{where}: {hour}:{minute or '00'} is not a time of day (00:00 to 24:00)."
        )
    return value


class DurationsField(forms.CharField):
    """ "15, 30, 45" → [15, 30, 45]: meeting lengths in minutes, in the order given, no repeats."""

    def __init__(self, *, label: str, help_text: str) -> None:
        super().__init__(label=label, help_text=help_text, max_length=100)

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list | tuple):
            return ", ".join(str(minutes) for minutes in value)
        return value

    def clean(self, value: object) -> list[int]:
        text = super().clean(value)
        durations: list[int] = []
        for part in re.split(r"[,;\s]+", text):
            part = part.removesuffix("min").strip()
            if not part:
                continue
            if not part.isdigit():
                raise forms.ValidationError(f"“{part}” is not a number of minutes.")
            minutes = int(part)
            if not DURATION_MIN <= minutes <= DURATION_MAX:
                raise forms.ValidationError(
                    f"{minutes} minutes is not allowed: each length must be between "
                    f"{DURATION_MIN} and {DURATION_MAX} minutes."
                )
            if minutes not in durations:
                durations.append(minutes)
        if not durations:
            raise forms.ValidationError("Give at least one meeting length, in minutes.")
        if len(durations) > DURATIONS_MAX:
            raise forms.ValidationError(f"Offer at most {DURATIONS_MAX} meeting lengths.")
        return durations


class WritableCalendarField(forms.ModelChoiceField):
    def label_from_instance(self, calendar: Calendar) -> str:
        return f"{calendar.name} ({calendar.connection.label})"


def _model_formfield(field: models.Field, **kwargs: Any) -> forms.Field | None:
    """A form field as the model defines it; a number's bounds come from the model's validators,
    so the form (and the browser, through min and max) holds the same range as the model."""
    if isinstance(field, models.IntegerField) and not field.choices:
        bounds = {
            "min_value": next(
                (v.limit_value for v in field.validators if isinstance(v, MinValueValidator)), None
            ),
            "max_value": next(
                (v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)), None
            ),
        }
        message = f"Choose between {bounds['min_value']} and {bounds['max_value']}."
        if field.null:
            message = message.removesuffix(".") + ", or leave empty."
        kwargs = {**bounds, **kwargs}
        kwargs["error_messages"] = {"min_value": message, "max_value": message}
        kwargs.setdefault("required", not field.blank)
    return field.formfield(**kwargs)


class ProfileForm(forms.Form):
    handle = forms.CharField(
        label="Handle",
        help_text="Your public address: /book/<em>handle</em>/. Lowercase letters, digits and "
        "hyphens, 3 to 40 characters. Changing it changes the links to all your pages.",
    )
    display_name = forms.CharField(
        label="Name shown to attendees",
        max_length=120,
        help_text="Your name or your company's, as people booking you see it.",
    )

    def __init__(self, data: Mapping[str, Any] | None = None, *, user: User) -> None:
        profile = selectors.profile_for_user(user)
        initial = (
            {"handle": profile.handle, "display_name": profile.display_name}
            if profile
            else {
                "handle": selectors.suggested_handle(user),
                "display_name": selectors.suggested_display_name(user),
            }
        )
        super().__init__(data, initial=initial)
        self.user = user

    def clean_handle(self) -> str:
        handle = self.cleaned_data["handle"].strip().lower()
        problem = selectors.handle_problem(handle)
        if problem:
            raise forms.ValidationError(problem)
        if selectors.handle_taken(handle, user=self.user):
            raise forms.ValidationError(f"“{handle}” is taken. Choose another handle.")
        return handle


def _page_form_fields() -> list[str]:
    """The page's settings but the weekly hours, which ``PageForm.clean`` builds from one field a
    day; the busy calendars come after the choice between all calendars and chosen ones."""
    names = []
    for field in dataclasses.fields(PageSettings):
        if field.name != "weekly_hours":
            names.append(field.name)
        if field.name == "busy_in_all_calendars":
            names.append("busy_calendars")
    return names


class PageForm(forms.ModelForm):
    """A booking page's settings. Only the user's own calendars are choices.

    Fields, limits and choices come from the model; what the form adds is the words around them
    and the fields whose form differs from what is stored (radio choices for two booleans, meeting
    lengths as text, the weekly hours as one text field per day). It builds ``PageSettings`` and
    never saves: the services do (``PageForms.saved``)."""

    listed = forms.TypedChoiceField(
        label="Who can find it",
        choices=[
            ("unlisted", "Unlisted: only people you give its secret link to can book"),
            ("listed", "Listed: also shown on your public profile page"),
        ],
        coerce=lambda value: value == "listed",
        widget=forms.RadioSelect,
        help_text="An unlisted page's link carries a random secret nobody can guess.",
    )
    slug = forms.CharField(
        label="Address",
        max_length=BookingPage._meta.get_field("slug").max_length,
        required=False,
        help_text="The end of the page's link: lowercase letters, digits and hyphens. Leave "
        "empty to make one from the title.",
    )
    durations = DurationsField(
        label="Meeting lengths",
        help_text=f"Minutes, separated by commas, for example: 15, 30, 45 ({DURATION_MIN} to "
        f"{DURATION_MAX} each). The first is the one picked at first.",
    )
    busy_in_all_calendars = forms.TypedChoiceField(
        label="Events that make you busy",
        choices=[
            ("all", "Events in all my calendars, also ones I connect later"),
            ("chosen", "Events in the calendars I choose below"),
        ],
        coerce=lambda value: value == "all",
        widget=forms.RadioSelect,
    )
    busy_calendars = CalendarsField(
        queryset=Calendar.objects.none(),
        label="Calendars to check",
        required=False,
        widget=CalendarCheckboxes(),
        error_messages={
            "invalid_choice": "Choose among your own calendars.",
            "invalid_pk_value": "Choose among your own calendars.",
        },
    )
    write_calendar = WritableCalendarField(
        queryset=Calendar.objects.none(),
        label="Add bookings to",
        required=False,
        empty_label="Choose a calendar",
        help_text="The calendar each booking is written to as an event. iCal links and "
        "read-only calendars cannot be chosen.",
        error_messages={
            "invalid_choice": "Choose one of your calendars Multical can write to (not an iCal "
            "link or a read-only calendar)."
        },
    )

    class Meta:
        model = BookingPage
        fields = _page_form_fields()
        formfield_callback = _model_formfield
        labels = {
            "title": "Title",
            "description": "Description",
            "active": "Open for bookings",
            "time_zone": "Time zone of these hours",
            "buffer_before": "Free time before",
            "buffer_after": "Free time after",
            "minimum_notice": "Minimum notice",
            "horizon_days": "Days ahead",
            "increment": "Start times every",
            "max_per_day": "At most this many bookings a day",
            "tentative_is_busy": "Tentative events make me busy",
            "free_is_busy": "Events marked free make me busy too",
            "all_day_events": "All-day events",
            "location": "Where you meet",
            "location_detail": "Phone number, address or link",
        }
        help_texts = {
            "title": "For example: Intro call.",
            "description": "Shown to attendees above the times they can pick.",
            "active": "When off, the page's link shows “not found” until you turn it on again.",
            "time_zone": "Attendees see the times in their own zone.",
            "buffer_before": "Minutes kept free before a meeting.",
            "buffer_after": "Minutes kept free after a meeting.",
            "minimum_notice": "Minutes between booking and meeting: 240 is four hours, 1440 a day.",
            "horizon_days": "How far ahead people can book.",
            "increment": "Minutes between the start times offered: 30 gives 09:00, 09:30, 10:00…",
            "max_per_day": "Leave empty for no limit.",
            "tentative_is_busy": "",
            "free_is_busy": "",
            "all_day_events": "",
            "location": "",
            "location_detail": "The number to call for a phone call, the address for in person, "
            "an https:// link for a custom link. Zoom makes a meeting link for each booking.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "location": forms.RadioSelect(attrs={"class": "inline-choices"}),
        }

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, user: User, page: BookingPage | None = None
    ) -> None:
        self.writable = selectors.writable_calendars_for_user(user)
        # A new instance: validating the form must not change the page the services compare with.
        super().__init__(
            data,
            instance=BookingPage(owner=user),
            initial=_initial(page, user=user, writable=self.writable),
        )
        self.user, self.page = user, page
        limit_calendars(self.fields["busy_calendars"], selectors.calendars_for_user(user))
        limit_calendars(self.fields["write_calendar"], self.writable)
        for day, name in weekdays_from(user.week_start):
            self.fields[f"hours_{day}"] = forms.CharField(
                label=name, required=False, max_length=200
            )

    def weekday_fields(self) -> list[forms.BoundField]:
        """The weekly hours' fields, from the day the owner's weeks start on."""
        return [self[f"hours_{day}"] for day, _ in weekdays_from(self.user.week_start)]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        weekly: dict[str, list[list[int]]] = {}
        for day, name in WEEKDAYS:
            field = f"hours_{day}"
            if field in self.errors:
                continue
            try:
                hours = parse_hours(data.get(field, ""), where=name)
            except forms.ValidationError as error:
                self.add_error(field, error)
                continue
            if hours:
                weekly[str(day)] = hours
        data["weekly_hours"] = weekly
        self._clean_slug(data)
        self._clean_conflicts(data)
        self._clean_location(data)
        missing_calendar = (
            data.get("write_calendar") is None and "write_calendar" not in self.errors
        )
        if missing_calendar and self.writable.exists():
            self.add_error("write_calendar", "Choose the calendar bookings are added to.")
        return data

    def _clean_slug(self, data: dict) -> None:
        if "slug" in self.errors:
            return
        slug = data.get("slug", "").strip().lower()
        if slug:
            if not selectors.SLUG_PATTERN.fullmatch(slug):
                self.add_error(
                    "slug",
                    "Use lowercase letters, digits and single hyphens, starting and ending with "
                    "a letter or a digit.",
                )
            elif self._slug_taken(slug):
                self.add_error(
                    "slug", f"You already have a page at “{slug}”. Choose another address."
                )
            data["slug"] = slug
            return
        base = "-".join(re.findall(r"[a-z0-9]+", slugify(data.get("title", ""))))[:56].strip("-")
        if not base:
            if "title" not in self.errors:
                self.add_error("slug", "Give the page an address: letters or digits.")
            return
        slug, number = base, 1
        while self._slug_taken(slug):
            number += 1
            slug = f"{base}-{number}"
        data["slug"] = slug

    def _slug_taken(self, slug: str) -> bool:
        pages = BookingPage.objects.filter(owner=self.user, slug=slug)
        if self.page is not None:
            pages = pages.exclude(id=self.page.id)
        return pages.exists()

    def _clean_conflicts(self, data: dict) -> None:
        if data.get("busy_in_all_calendars"):
            data["busy_calendars"] = []
        elif "busy_calendars" not in self.errors and not data.get("busy_calendars"):
            self.add_error(
                "busy_calendars",
                "Choose at least one calendar, or count events in all your calendars.",
            )

    def _clean_location(self, data: dict) -> None:
        location = data.get("location")
        detail = data.get("location_detail", "").strip()
        Location = BookingPage.Location
        if location in (Location.ZOOM, Location.NONE):
            detail = ""
        if location == Location.ZOOM and selectors.zoom_connection_for_user(self.user) is None:
            self.add_error(
                "location",
                format_html(
                    'Zoom meetings need a working Zoom connection. <a href="{}">Connect Zoom</a> '
                    "on the Calendars page, then choose Zoom here again.",
                    reverse("calendars:calendar_list"),
                ),
            )
        elif location == Location.PHONE and not _is_phone_number(detail):
            self.add_error(
                "location_detail",
                "Give the phone number for the call, for example +49 30 1234567.",
            )
        elif location == Location.IN_PERSON and not detail:
            self.add_error("location_detail", "Give the address where you meet.")
        elif location == Location.LINK:
            try:
                URLValidator(schemes=["https"])(detail)
            except forms.ValidationError:
                self.add_error("location_detail", "Give the meeting link, starting with https://.")
        data["location_detail"] = detail


class OverrideForm(forms.Form):
    date = forms.DateField(
        label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    hours = forms.CharField(
        label="Hours",
        required=False,
        max_length=200,
        help_text="Leave empty for a day off.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        day = data.get("date")
        if day is None:
            if data.get("hours") and "date" not in self.errors:
                self.add_error("date", "Give the date these hours are for.")
            return data
        try:
            data["hours"] = parse_hours(
                data.get("hours", ""), where=f"{day:%a} {day.day} {day:%b %Y}"
            )
        except forms.ValidationError as error:
            self.add_error("hours", error)
        return data


class BaseOverrideFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Remove"

    def clean(self) -> None:
        seen: set[date] = set()
        for form in self.forms:
            if self._removed(form) or not hasattr(form, "cleaned_data"):
                continue
            day = form.cleaned_data.get("date")
            if day in seen:
                form.add_error("date", "This date is already listed above.")
            elif day is not None:
                seen.add(day)

    def overrides(self) -> list[tuple[date, list[list[int]]]]:
        return sorted(
            (form.cleaned_data["date"], form.cleaned_data["hours"])
            for form in self.forms
            if not self._removed(form) and form.cleaned_data.get("date") is not None
        )

    def _removed(self, form: forms.Form) -> bool:
        """Whether the form's Remove box is ticked."""
        return bool(form.cleaned_data.get(DELETION_FIELD_NAME, False))


# formset_factory returns a subclass of the formset it is given; the stubs type it as BaseFormSet.
OverrideFormSet = cast(
    "type[BaseOverrideFormSet]",
    forms.formset_factory(
        OverrideForm,
        formset=BaseOverrideFormSet,
        extra=2,
        can_delete=True,
        max_num=200,
        validate_max=True,
    ),
)


class QuestionForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    label = forms.CharField(
        label="Question", max_length=200, error_messages={"required": "Write the question."}
    )
    kind = forms.ChoiceField(
        label="Answer", choices=Question.Kind.choices, initial=Question.Kind.SHORT
    )
    required = forms.BooleanField(label="Required", required=False)


class BaseQuestionFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["ORDER"].label = "Position"
        form.fields["DELETE"].label = "Remove"

    def questions(self) -> list[QuestionSpec]:
        return [
            QuestionSpec(
                id=form.cleaned_data["id"],
                label=form.cleaned_data["label"],
                kind=form.cleaned_data["kind"],
                required=form.cleaned_data["required"],
            )
            for form in self.ordered_forms
        ]


QuestionFormSet = cast(
    "type[BaseQuestionFormSet]",
    forms.formset_factory(
        QuestionForm,
        formset=BaseQuestionFormSet,
        extra=2,
        can_order=True,
        can_delete=True,
        max_num=20,
        validate_max=True,
    ),
)


class PageForms:
    """A page's settings with its date overrides and questions: one form to the user."""

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, user: User, page: BookingPage | None = None
    ) -> None:
        self.form = PageForm(data, user=user, page=page)
        overrides = page.date_overrides.all() if page else []
        questions = page.questions.all() if page else []
        self.overrides = OverrideFormSet(
            data,
            prefix="overrides",
            initial=[
                {"date": override.date, "hours": format_hours(override.hours)}
                for override in overrides
            ],
        )
        self.questions = QuestionFormSet(
            data,
            prefix="questions",
            initial=[
                {"id": q.id, "label": q.label, "kind": q.kind, "required": q.required}
                for q in questions
            ],
        )

    @property
    def has_errors(self) -> bool:
        return self.form.is_bound and not self.is_valid()

    def is_valid(self) -> bool:
        results = [self.form.is_valid(), self.overrides.is_valid(), self.questions.is_valid()]
        return all(results)

    def saved(self) -> dict[str, Any]:
        """What ``booking.services.pages.page_create`` and ``page_update`` take, once the forms are valid:
        the typed settings, the busy calendars, the date overrides and the questions."""
        return {
            "settings": PageSettings.from_values(self.form.cleaned_data),
            "busy_calendars": list(self.form.cleaned_data["busy_calendars"]),
            "overrides": self.overrides.overrides(),
            "questions": self.questions.questions(),
        }


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent to the attendee with the cancellation.",
    )


class RescheduleForm(forms.Form):
    start = forms.DateTimeField(
        label="New time",
        error_messages={"required": "Choose a new time.", "invalid": "Choose a new time."},
    )


def _initial(page: BookingPage | None, *, user: User, writable) -> dict:
    if page is None:
        page = BookingPage(
            owner=user,
            time_zone=user.time_zone,
            durations=DEFAULT_DURATIONS,
            weekly_hours=DEFAULT_WEEKLY_HOURS,
            active=True,
            write_calendar=writable.first(),
        )
        busy_calendars: list[Calendar] = []
    else:
        busy_calendars = list(page.busy_calendars.all())
    initial = asdict(PageSettings.of(page))
    initial["listed"] = "listed" if page.listed else "unlisted"
    initial["busy_in_all_calendars"] = "all" if page.busy_in_all_calendars else "chosen"
    initial["busy_calendars"] = busy_calendars
    for day, _ in WEEKDAYS:
        initial[f"hours_{day}"] = format_hours(page.weekly_hours.get(str(day), []))
    return initial


def _is_phone_number(text: str) -> bool:
    return bool(_PHONE.fullmatch(text)) and 6 <= sum(char.isdigit() for char in text) <= 20
