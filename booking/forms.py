from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.forms.formsets import DELETION_FIELD_NAME, ORDERING_FIELD_NAME
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import format_lazy, slugify
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from booking import pictures
from booking.availability import Draft
from booking.embed import ORIGINS_MAX
from booking.models import (
    BookingPage,
    DateOverride,
    Question,
    TeamDateOverride,
    TeamPage,
    TeamQuestion,
)
from booking.selectors import owner as selectors
from booking.services.pages import PageSettings, QuestionSpec
from booking.slots import MINUTES_PER_DAY
from calendars.models import Calendar
from multical.lib.framing import NotAnOrigin, frame_origin
from syncrules.forms import (
    CalendarCheckboxes,
    CalendarsField,
    limit_calendars,
    weekdays_from,
)

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile
    from django.utils.datastructures import MultiValueDict
    from django_stubs_ext import StrOrPromise

# What a new page starts with: Monday to Friday, 09:00 to 17:00.
DEFAULT_WEEKLY_HOURS = {str(day): [[9 * 60, 17 * 60]] for day in range(1, 6)}
DEFAULT_DURATIONS = [30]
DURATION_MIN, DURATION_MAX, DURATIONS_MAX = 5, 480, 10
# The period a day without hours shows, ready for when it is switched on.
DEFAULT_PERIOD = [9 * 60, 17 * 60]
# At most this many periods in a day. And the blank rows shown after a day's periods for browsers
# without scripts; with scripts, "Add a period" adds rows and the blank ones are taken away.
PERIODS_MAX = 12
SPARE_PERIODS = 2
# A time of day as <input type="time"> posts it: "09:30", with seconds from some browsers.
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d(?:\.\d+)?)?")
_PHONE = re.compile(r"\+?[\d\s().-]+")


def _time_text(minutes: int) -> str:
    """Minutes from midnight as a time field shows them: 570 is "09:30", and the end of the day
    (1440) is "00:00", midnight."""
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _period_text(start: int, end: int) -> str:
    return f"{_time_text(start)}\N{EN DASH}{_time_text(end)}"


def _time_minutes(text: str, *, end: bool) -> int | None:
    """ "09:30" → 570; as the end of a period "00:00" is midnight at the day's end (1440). None
    when ``text`` is no time of day."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        return None
    minutes = int(match[1]) * 60 + int(match[2])
    return MINUTES_PER_DAY if end and minutes == 0 else minutes


def _posted_list(data: Mapping[str, Any], key: str) -> list[str]:
    """Every value posted under ``key``: a QueryDict holds one per row of time fields."""
    if hasattr(data, "getlist"):
        return [str(value) for value in data.getlist(key)]
    value = data.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


@dataclass(slots=True)
class Period:
    """One row of hours as its two time fields posted it ("" for an empty field), and what is
    wrong with it. Kept as typed, so that a form shown again with errors loses nothing."""

    start: str
    end: str
    error: str = ""

    @property
    def blank(self) -> bool:
        return not self.start.strip() and not self.end.strip()


@dataclass(slots=True)
class Periods:
    """The periods of one weekday or one date override.

    They are posted as two lists of time fields, ``<name>-start`` and ``<name>-end``, one pair a
    row in the order of the page: a script adds and removes rows with nothing to renumber, and a
    browser without scripts fills in the blank rows it was given (``SPARE_PERIODS``). Blank rows
    count for nothing, and are not kept."""

    name: str
    rows: list[Period]
    # What is wrong with the periods as a whole (none given, too many); each row has its own.
    problem: str = ""

    @classmethod
    def posted(cls, data: Mapping[str, Any], name: str) -> Periods:
        starts, ends = _posted_list(data, f"{name}-start"), _posted_list(data, f"{name}-end")
        count = max(len(starts), len(ends))
        starts += [""] * (count - len(starts))
        ends += [""] * (count - len(ends))
        rows = [Period(start, end) for start, end in zip(starts, ends, strict=True)]
        return cls(name, [row for row in rows if not row.blank])

    @classmethod
    def of(cls, name: str, hours: Sequence[Sequence[int]]) -> Periods:
        return cls(name, [Period(_time_text(start), _time_text(end)) for start, end in hours])

    @property
    def spares(self) -> range:
        return range(SPARE_PERIODS)

    def clean(self, *, none_given: str) -> list[list[int]]:
        """The rows' hours as [start, end) minutes, sorted, with touching periods joined.

        A wrong row gets its ``error`` (no time, an end before the start, an overlap with an
        earlier period) and is left out; with no hours at all, ``problem`` says ``none_given``."""
        if not self.rows:
            self.problem = none_given
            return []
        if len(self.rows) > PERIODS_MAX:
            self.problem = gettext("Give at most %(count)d periods a day.") % {"count": PERIODS_MAX}
            return []
        spans: list[tuple[int, int, Period]] = []
        for row in self.rows:
            start = _time_minutes(row.start, end=False)
            end = _time_minutes(row.end, end=True)
            if start is None or end is None:
                row.error = gettext("Give a start and an end time, for example 09:00 and 17:00.")
            elif end <= start:
                row.error = gettext("%(period)s ends before it starts.") % {
                    "period": _period_text(start, end)
                }
            else:
                spans.append((start, end, row))
        return self._joined(sorted(spans, key=lambda span: span[:2]))

    @staticmethod
    def _joined(spans: list[tuple[int, int, Period]]) -> list[list[int]]:
        """Sorted spans as hours; one that starts inside an earlier one is an error on its row."""
        joined: list[list[int]] = []
        for start, end, row in spans:
            if joined and start < joined[-1][1]:
                row.error = gettext("%(period)s overlaps %(other)s.") % {
                    "period": _period_text(start, end),
                    "other": _period_text(*joined[-1]),
                }
            elif joined and start == joined[-1][1]:
                joined[-1][1] = end
            else:
                joined.append([start, end])
        return joined

    def messages(self, where: str) -> list[str]:
        """What is wrong, each message naming ``where`` (a weekday, a date), for the form's
        errors."""
        problems = [self.problem, *(row.error for row in self.rows)]
        return [
            gettext("%(where)s: %(problem)s") % {"where": where, "problem": problem}
            for problem in problems
            if problem
        ]


class DurationsField(forms.CharField):
    """ "15, 30, 45" → [15, 30, 45]: meeting lengths in minutes, in the order given, no repeats."""

    def __init__(self, *, label: StrOrPromise, help_text: StrOrPromise) -> None:
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
                raise forms.ValidationError(
                    gettext("“%(part)s” is not a number of minutes.") % {"part": part}
                )
            minutes = int(part)
            if not DURATION_MIN <= minutes <= DURATION_MAX:
                raise forms.ValidationError(
                    gettext(
                        "%(minutes)d minutes is not allowed: each length must be between "
                        "%(min)d and %(max)d minutes."
                    )
                    % {"minutes": minutes, "min": DURATION_MIN, "max": DURATION_MAX}
                )
            if minutes not in durations:
                durations.append(minutes)
        if not durations:
            raise forms.ValidationError(gettext("Give at least one meeting length, in minutes."))
        if len(durations) > DURATIONS_MAX:
            raise forms.ValidationError(
                gettext("Offer at most %(count)d meeting lengths.") % {"count": DURATIONS_MAX}
            )
        return durations


class OriginsField(forms.CharField):
    """Websites by their address, one a line: "https://example.com" → ["https://example.com"].
    Each one as ``frame_origin`` makes it (a trailing slash dropped, in lower case), no repeats;
    a line that names no origin is an error that quotes it."""

    widget = forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"})

    def __init__(self, *, label: StrOrPromise, help_text: StrOrPromise) -> None:
        super().__init__(label=label, help_text=help_text, required=False, max_length=4000)

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list | tuple):
            return "\n".join(str(origin) for origin in value)
        return value

    def clean(self, value: object) -> list[str]:
        text = super().clean(value)
        origins: list[str] = []
        problems: list[str] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                origin = frame_origin(line)
            except NotAnOrigin as problem:
                problems.append(
                    gettext("“%(line)s”: %(problem)s") % {"line": line.strip(), "problem": problem}
                )
                continue
            if origin not in origins:
                origins.append(origin)
        if problems:
            raise forms.ValidationError(problems)
        if len(origins) > ORIGINS_MAX:
            raise forms.ValidationError(
                gettext("List at most %(count)d websites.") % {"count": ORIGINS_MAX}
            )
        return origins


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
        # Worded when shown (form fields are made at import, before any language is active).
        message = format_lazy(
            gettext_lazy("Choose between {low} and {high}, or leave empty.")
            if field.null
            else gettext_lazy("Choose between {low} and {high}."),
            low=bounds["min_value"],
            high=bounds["max_value"],
        )
        kwargs = {**bounds, **kwargs}
        kwargs["error_messages"] = {"min_value": message, "max_value": message}
        kwargs.setdefault("required", not field.blank)
    return field.formfield(**kwargs)


class ProfileForm(forms.Form):
    """The owner's public face: handle, name and, where the page can upload one
    (``with_picture``), a picture, turned into ``pictures.SquarePicture`` while the form is
    cleaned so that a file we cannot use is a field error like any other."""

    handle = forms.CharField(
        label=gettext_lazy("Handle"),
        help_text=gettext_lazy(
            "Your public address: /book/<em>handle</em>/. Lowercase letters, digits and "
            "hyphens, 3 to 40 characters. Changing it changes the links to all your pages."
        ),
    )
    display_name = forms.CharField(
        label=gettext_lazy("Name shown to attendees"),
        max_length=120,
        help_text=gettext_lazy("Your name or your company's, as people booking you see it."),
    )
    picture = forms.FileField(
        label=gettext_lazy("Picture"),
        required=False,
        help_text=gettext_lazy(
            "A JPEG, PNG, WebP or GIF of up to 5 MB. People booking you see its middle as a "
            "small square; its location and camera details are removed."
        ),
        widget=forms.FileInput(attrs={"accept": ",".join(pictures.ACCEPTED_TYPES)}),
    )
    remove_picture = forms.BooleanField(label=gettext_lazy("Remove picture"), required=False)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        files: MultiValueDict[str, UploadedFile] | None = None,
        *,
        user: User,
        with_picture: bool = False,
    ) -> None:
        profile = selectors.profile_for_user(user)
        initial = (
            {"handle": profile.handle, "display_name": profile.display_name}
            if profile
            else {
                "handle": selectors.suggested_handle(user),
                "display_name": selectors.suggested_display_name(user),
            }
        )
        super().__init__(data, files, initial=initial)
        self.user = user
        if not with_picture:
            del self.fields["picture"], self.fields["remove_picture"]
        elif profile is None or not profile.picture_digest:
            del self.fields["remove_picture"]

    def clean_handle(self) -> str:
        handle = self.cleaned_data["handle"].strip().lower()
        problem = selectors.handle_problem(handle)
        if problem:
            raise forms.ValidationError(problem)
        if selectors.handle_taken(handle, user=self.user):
            raise forms.ValidationError(
                gettext_lazy("“%(handle)s” is taken. Choose another handle.") % {"handle": handle}
            )
        return handle

    def clean_picture(self) -> pictures.SquarePicture | None:
        """The upload, cropped, resized and re-encoded; None when none was sent. A new picture
        wins over "Remove picture" ticked at the same time."""
        upload = self.cleaned_data.get("picture")
        if not upload:
            return None
        try:
            return pictures.square_picture(upload, size=upload.size)
        except pictures.PictureRefused as refusal:
            raise forms.ValidationError(refusal.message, code="picture") from refusal


def _page_form_fields() -> list[str]:
    """The page's settings but the weekly hours, which ``PageForm.clean`` builds from a switch and
    the periods of each day; the busy calendars come after the choice between all calendars and
    chosen ones."""
    names = []
    for field in dataclasses.fields(PageSettings):
        if field.name != "weekly_hours":
            names.append(field.name)
        if field.name == "busy_in_all_calendars":
            names.append("busy_calendars")
    return names


@dataclass(frozen=True, slots=True)
class WeekDay:
    """A day of the weekly hours: its switch (a checkbox named ``day_<ISO weekday>``, labelled
    with the day) and its periods."""

    iso: int
    switch: forms.BoundField
    periods: Periods

    @property
    def label(self) -> str:
        return str(self.switch.label)


def week_rows(
    form: forms.BaseForm, weekly: Mapping[str, Sequence[Sequence[int]]], *, week_start: int
) -> list[WeekDay]:
    """Adds the weekly hours to ``form``: a switch a day, on for the days ``weekly`` has hours,
    and the day's periods as posted, or as ``weekly`` holds them. A personal and a team page's
    editors share them, so that both post, check and show the hours alike
    (``booking/page_form/weekly_hours.html``). The days follow ``week_start``."""
    week: list[WeekDay] = []
    for day, name in weekdays_from(week_start):
        switch = f"day_{day}"
        form.fields[switch] = forms.BooleanField(
            label=name, required=False, widget=forms.CheckboxInput(attrs={"class": "switch"})
        )
        form.initial.setdefault(switch, str(day) in weekly)
        periods = (
            Periods.posted(form.data, f"hours-{day}")
            if form.is_bound
            else Periods.of(f"hours-{day}", weekly.get(str(day)) or [DEFAULT_PERIOD])
        )
        week.append(WeekDay(iso=day, switch=form[switch], periods=periods))
    return week


def clean_week(form: forms.BaseForm, week: list[WeekDay]) -> dict[str, list[list[int]]]:
    """The hours of the days switched on, by ISO weekday; what is wrong is an error of the day's
    switch. A day switched off offers none, whatever its rows hold: they are shown again as they
    were, for when it is back on."""
    weekly: dict[str, list[list[int]]] = {}
    for day in sorted(week, key=lambda day: day.iso):
        if not form.cleaned_data.get(day.switch.name):
            continue
        hours = day.periods.clean(none_given=gettext("Add a period, or switch the day off."))
        for message in day.periods.messages(day.label):
            form.add_error(day.switch.name, message)
        if hours:
            weekly[str(day.iso)] = hours
    return weekly


class PageForm(forms.ModelForm):
    """A booking page's settings. Only the user's own calendars are choices.

    Fields, limits and choices come from the model; what the form adds is the words around them
    and the fields whose form differs from what is stored (radio choices for two booleans, meeting
    lengths as text, the weekly hours as a switch and rows of periods per day). It builds
    ``PageSettings`` and never saves: the services do (``PageForms.saved``)."""

    listed = forms.TypedChoiceField(
        label=gettext_lazy("Who can find it"),
        choices=[
            (
                "unlisted",
                gettext_lazy("Unlisted: only people you give its secret link to can book"),
            ),
            ("listed", gettext_lazy("Listed: also shown on your public profile page")),
        ],
        coerce=lambda value: value == "listed",
        widget=forms.RadioSelect,
        help_text=gettext_lazy("An unlisted page's link carries a random secret nobody can guess."),
    )
    slug = forms.CharField(
        label=gettext_lazy("Address"),
        max_length=BookingPage._meta.get_field("slug").max_length,
        required=False,
        help_text=gettext_lazy(
            "The end of the page's link: lowercase letters, digits and hyphens. Leave empty to "
            "make one from the title."
        ),
    )
    durations = DurationsField(
        label=gettext_lazy("Meeting lengths"),
        help_text=gettext_lazy(
            "Minutes, separated by commas, for example: 15, 30, 45. Attendees choose among them; "
            "the first is picked at first."
        ),
    )
    busy_in_all_calendars = forms.TypedChoiceField(
        label=gettext_lazy("Events that make you busy"),
        choices=[
            ("all", gettext_lazy("Events in all my calendars, also ones I connect later")),
            ("chosen", gettext_lazy("Events in the calendars I choose below")),
        ],
        coerce=lambda value: value == "all",
        widget=forms.RadioSelect,
    )
    busy_calendars = CalendarsField(
        queryset=Calendar.objects.none(),
        label=gettext_lazy("Calendars to check"),
        required=False,
        widget=CalendarCheckboxes(),
        error_messages={
            "invalid_choice": gettext_lazy("Choose among your own calendars."),
            "invalid_pk_value": gettext_lazy("Choose among your own calendars."),
        },
    )
    embed_on = forms.ChoiceField(
        label=gettext_lazy("Embedding in other websites"),
        choices=[
            (BookingPage.EmbedOn.ANY_SITE, gettext_lazy("Any website")),
            (BookingPage.EmbedOn.LISTED_SITES, gettext_lazy("Only the websites listed below")),
            (BookingPage.EmbedOn.NOWHERE, gettext_lazy("No website: the page opens on its own")),
        ],
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Which websites may show this page inside their own pages, with the code from your "
            "list of booking pages. Its own link works whatever you choose."
        ),
    )
    embed_origins = OriginsField(
        label=gettext_lazy("Websites that may embed it"),
        help_text=gettext_lazy(
            "One website a line, by its address only: https://example.com, or "
            "https://*.example.com for all its subdomains. No page path."
        ),
    )
    write_calendar = WritableCalendarField(
        queryset=Calendar.objects.none(),
        label=gettext_lazy("Add bookings to"),
        required=False,
        empty_label=gettext_lazy("Choose a calendar"),
        help_text=gettext_lazy(
            "The calendar each booking is written to as an event. iCal links and read-only "
            "calendars cannot be chosen."
        ),
        error_messages={
            "invalid_choice": gettext_lazy(
                "Choose one of your calendars Multical can write to (not an iCal link or a "
                "read-only calendar)."
            )
        },
    )

    class Meta:
        model = BookingPage
        fields = _page_form_fields()
        formfield_callback = _model_formfield
        labels = {
            "title": gettext_lazy("Title"),
            "description": gettext_lazy("Description"),
            "active": gettext_lazy("Open for bookings"),
            "time_zone": gettext_lazy("Time zone of these hours"),
            "buffer_before": gettext_lazy("Free time before"),
            "buffer_after": gettext_lazy("Free time after"),
            "minimum_notice": gettext_lazy("Minimum notice"),
            "horizon_days": gettext_lazy("Days ahead"),
            "increment": gettext_lazy("Start times every"),
            "max_per_day": gettext_lazy("At most this many bookings a day"),
            "tentative_is_busy": gettext_lazy("Tentative events make me busy"),
            "free_is_busy": gettext_lazy("Events marked free make me busy too"),
            "all_day_events": gettext_lazy("All-day events"),
            "location": gettext_lazy("Where you meet"),
            "location_detail": gettext_lazy("Phone number, address or link"),
            "language": gettext_lazy("Language of the page"),
        }
        help_texts = {
            "title": gettext_lazy("For example: Intro call."),
            "description": gettext_lazy("Shown to attendees above the times they can pick."),
            "active": gettext_lazy(
                "When off, the page's link shows “not found” until you turn it on again."
            ),
            "time_zone": gettext_lazy("Attendees see the times in their own zone."),
            "buffer_before": gettext_lazy("Minutes kept free before a meeting."),
            "buffer_after": gettext_lazy("Minutes kept free after a meeting."),
            "minimum_notice": gettext_lazy(
                "Minutes between booking and meeting: 240 is four hours, 1440 a day."
            ),
            "horizon_days": gettext_lazy("How far ahead people can book."),
            "increment": gettext_lazy(
                "Minutes between the start times offered: 30 gives 09:00, 09:30, 10:00…"
            ),
            "max_per_day": gettext_lazy("Leave empty for no limit."),
            "tentative_is_busy": "",
            "free_is_busy": "",
            "all_day_events": "",
            "location": "",
            "location_detail": gettext_lazy(
                "The number to call for a phone call, the address for in person, an https:// "
                "link for a custom link. Zoom makes a meeting link for each booking."
            ),
            "language": gettext_lazy(
                "The page, its e-mails and invitations to attendees are in this language. "
                "Attendees can switch unless you fix one here."
            ),
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "active": forms.CheckboxInput(attrs={"class": "switch"}),
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
        self.week = week_rows(self, self.initial["weekly_hours"], week_start=user.week_start)

    def weekday_fields(self) -> list[WeekDay]:
        """The weekly hours, a day each, from the day the owner's weeks start on."""
        return self.week

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        data["weekly_hours"] = clean_week(self, self.week)
        self._clean_slug(data)
        self._clean_conflicts(data)
        self._clean_location(data)
        self._clean_embedding(data)
        missing_calendar = (
            data.get("write_calendar") is None and "write_calendar" not in self.errors
        )
        if missing_calendar and self.writable.exists():
            self.add_error("write_calendar", gettext("Choose the calendar bookings are added to."))
        return data

    def _clean_slug(self, data: dict) -> None:
        if "slug" in self.errors:
            return
        slug = data.get("slug", "").strip().lower()
        if slug:
            if not selectors.SLUG_PATTERN.fullmatch(slug):
                self.add_error(
                    "slug",
                    gettext(
                        "Use lowercase letters, digits and single hyphens, starting and ending "
                        "with a letter or a digit."
                    ),
                )
            elif self._slug_taken(slug):
                self.add_error(
                    "slug",
                    gettext("You already have a page at “%(slug)s”. Choose another address.")
                    % {"slug": slug},
                )
            data["slug"] = slug
            return
        base = "-".join(re.findall(r"[a-z0-9]+", slugify(data.get("title", ""))))[:56].strip("-")
        if not base:
            if "title" not in self.errors:
                self.add_error("slug", gettext("Give the page an address: letters or digits."))
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
        """Counting events in all calendars, the chosen ones are ignored, whatever was posted (the
        page disables them then); counting chosen ones, at least one must be chosen."""
        if data.get("busy_in_all_calendars"):
            data["busy_calendars"] = []
            self.errors.pop("busy_calendars", None)
        elif "busy_calendars" not in self.errors and not data.get("busy_calendars"):
            self.add_error(
                "busy_calendars",
                gettext("Choose at least one calendar, or count events in all your calendars."),
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
                    str(
                        gettext(
                            'Zoom meetings need a working Zoom connection. <a href="{url}">Connect '
                            "Zoom</a> on the Calendars page, then choose Zoom here again."
                        )
                    ),
                    url=reverse("calendars:calendar_list"),
                ),
            )
        elif location == Location.PHONE and not _is_phone_number(detail):
            self.add_error(
                "location_detail",
                gettext("Give the phone number for the call, for example +49 30 1234567."),
            )
        elif location == Location.IN_PERSON and not detail:
            self.add_error("location_detail", gettext("Give the address where you meet."))
        elif location == Location.LINK:
            try:
                URLValidator(schemes=["https"])(detail)
            except forms.ValidationError:
                self.add_error(
                    "location_detail", gettext("Give the meeting link, starting with https://.")
                )
        data["location_detail"] = detail

    def _clean_embedding(self, data: dict) -> None:
        """Listed websites only: at least one. The list is kept whatever the choice, for when
        it is made again."""
        listed = data.get("embed_on") == BookingPage.EmbedOn.LISTED_SITES
        if listed and not data.get("embed_origins") and "embed_origins" not in self.errors:
            self.add_error(
                "embed_origins",
                gettext("List at least one website, or choose another option for embedding."),
            )


class RowForm(forms.Form):
    """A row of a ``RowsFormSet``. One the page took away in place is missing from the post, and
    counts as an empty row (the formset's numbers keep its place)."""

    def has_changed(self) -> bool:
        posted = any(key.startswith(f"{self.prefix}-") for key in self.data)
        return posted and super().has_changed()


class OverrideForm(RowForm):
    """A date with other hours: a day off, or periods of its own (``Periods``, posted beside the
    fields as ``<prefix>-hours-start`` and ``<prefix>-hours-end``)."""

    OFF, HOURS = "off", "hours"

    date = forms.DateField(
        label=gettext_lazy("Date"),
        required=False,
        input_formats=["%Y-%m-%d"],
        # The date picker's own format, whatever the language.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    available = forms.ChoiceField(
        label=gettext_lazy("That day"),
        choices=[
            (OFF, gettext_lazy("Unavailable all day")),
            (HOURS, gettext_lazy("Available at these hours")),
        ],
        initial=OFF,
        widget=forms.RadioSelect(attrs={"class": "inline-choices"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name = self.add_prefix("hours")
        self.periods = (
            Periods.posted(self.data, name)
            if self.is_bound
            else Periods.of(name, self.initial.get("hours") or [DEFAULT_PERIOD])
        )

    def clean(self) -> dict[str, Any]:
        """A date's hours (none for a day off). The periods' problems are shown on their rows;
        they are the form's errors too (not any field's), so that it is not valid."""
        super().clean()
        data = self.cleaned_data
        day = data.get("date")
        at_hours = data.get("available") == self.HOURS
        data["hours"] = []
        if day is None:
            if at_hours and self.periods.rows and "date" not in self.errors:
                self.add_error("date", gettext("Give the date these hours are for."))
            return data
        if at_hours:
            data["hours"] = self.periods.clean(
                none_given=gettext("Add a period, or make the day unavailable.")
            )
            for message in self.periods.messages(date_format(day, "D j M Y")):
                self.add_error(None, message)
        return data


class RowsFormSet(forms.BaseFormSet):
    """A formset of rows the page adds and removes in place (page_form.js)."""

    def rows(self) -> list[tuple[forms.Form, bool]]:
        """Each form, and whether it is a spare: an extra row nothing was written in, there for
        browsers without scripts (the script takes spares away, and adds rows when asked)."""
        initial = self.initial_form_count()
        return [
            (form, index >= initial and not (self.is_bound and form.has_changed()))
            for index, form in enumerate(self.forms)
        ]


class BaseOverrideFormSet(RowsFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if DELETION_FIELD_NAME in form.fields:
            form.fields[DELETION_FIELD_NAME].label = gettext("Remove")

    def clean(self) -> None:
        seen: set[date] = set()
        for form in self.forms:
            if self._removed(form) or not hasattr(form, "cleaned_data"):
                continue
            day = form.cleaned_data.get("date")
            if day in seen:
                form.add_error("date", gettext("This date is already listed above."))
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
# Only saved rows can be removed by a box: a new row is taken away by the page's script, or left
# blank. The blank rows are for browsers without scripts; with them, "Add" makes rows.
OverrideFormSet = cast(
    "type[BaseOverrideFormSet]",
    forms.formset_factory(
        OverrideForm,
        formset=BaseOverrideFormSet,
        extra=2,
        can_delete=True,
        can_delete_extra=False,
        max_num=200,
        validate_max=True,
    ),
)


class QuestionForm(RowForm):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    label = forms.CharField(
        label=gettext_lazy("Question"),
        max_length=200,
        error_messages={"required": gettext_lazy("Write the question.")},
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Answer"), choices=Question.Kind.choices, initial=Question.Kind.SHORT
    )
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False)

    def has_changed(self) -> bool:
        """Whether anything but the position changed: a row the script added carries a position
        from the start, and is still an empty row until something is written in it."""
        changed = [name for name in self.changed_data if name != ORDERING_FIELD_NAME]
        return bool(changed) and super().has_changed()


class BaseQuestionFormSet(RowsFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields[ORDERING_FIELD_NAME].label = gettext("Position")
        if DELETION_FIELD_NAME in form.fields:
            form.fields[DELETION_FIELD_NAME].label = gettext("Remove")

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
        can_delete_extra=False,
        max_num=20,
        validate_max=True,
    ),
)


def override_formset(
    data: Mapping[str, Any] | None, page: BookingPage | TeamPage | None
) -> BaseOverrideFormSet:
    """The rows of a page's date overrides: a personal page's or a team page's, read alike."""
    overrides: Iterable[DateOverride | TeamDateOverride] = page.date_overrides.all() if page else []
    return OverrideFormSet(
        data,
        prefix="overrides",
        initial=[
            {
                "date": override.date,
                "available": OverrideForm.HOURS if override.hours else OverrideForm.OFF,
                "hours": override.hours,
            }
            for override in overrides
        ],
    )


def question_formset(
    data: Mapping[str, Any] | None, page: BookingPage | TeamPage | None
) -> BaseQuestionFormSet:
    """The rows of a page's questions: a personal page's or a team page's, read alike."""
    questions: Iterable[Question | TeamQuestion] = page.questions.all() if page else []
    return QuestionFormSet(
        data,
        prefix="questions",
        initial=[
            {"id": q.id, "label": q.label, "kind": q.kind, "required": q.required}
            for q in questions
        ],
    )


class PageForms:
    """A page's settings with its date overrides and questions: one form to the user."""

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, user: User, page: BookingPage | None = None
    ) -> None:
        self.form = PageForm(data, user=user, page=page)
        self.overrides = override_formset(data, page)
        self.questions = question_formset(data, page)

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

    def draft(self) -> tuple[BookingPage, Draft] | None:
        """The page as saving would make it, unsaved, with its dates and chosen calendars, for the
        form's preview of the times it offers; None while its settings or dates have errors (the
        questions change no time). An edited page keeps its id, so its bookings count."""
        if not (self.form.is_valid() and self.overrides.is_valid()):
            return None
        page = BookingPage(owner=self.form.user)
        if self.form.page is not None:
            page.id = self.form.page.id
        PageSettings.from_values(self.form.cleaned_data).apply_to(page)
        return page, Draft(
            date_overrides=dict(self.overrides.overrides()),
            busy_calendars=list(self.form.cleaned_data["busy_calendars"]),
        )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Sent to the attendee with the cancellation."),
    )


class RescheduleForm(forms.Form):
    start = forms.DateTimeField(
        label=gettext_lazy("New time"),
        error_messages={
            "required": gettext_lazy("Choose a new time."),
            "invalid": gettext_lazy("Choose a new time."),
        },
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
    return initial


def _is_phone_number(text: str) -> bool:
    return bool(_PHONE.fullmatch(text)) and 6 <= sum(char.isdigit() for char in text) <= 20
