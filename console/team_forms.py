"""The organization's handle and team pages as its admins set them, and each member's own side of
a team page (``booking.services.teams``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import TIME_ZONE_CHOICES, User
from booking.forms import (
    DEFAULT_WEEKLY_HOURS,
    BaseOverrideFormSet,
    BaseQuestionFormSet,
    PageForm,
    WeekDay,
    clean_week,
    override_formset,
    question_formset,
    week_rows,
)
from booking.handles import handle_in_use
from booking.models import BookingPage, TeamPage, TeamPageMember
from booking.selectors.owner import handle_problem
from booking.services.teams import MemberSettings, TeamPageSettings
from calendars.models import Calendar, Connection
from orgs.models import Membership


class OrgHandleForm(forms.Form):
    handle = forms.SlugField(
        label=_("The organization's handle"),
        max_length=40,
        help_text=_(
            "Team pages are at /book/ followed by the handle. A handle is a person's or an "
            "organization's, never both."
        ),
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.membership = membership

    def clean_handle(self) -> str:
        handle: str = self.cleaned_data["handle"].lower()
        problem = handle_problem(handle)
        if problem:
            raise forms.ValidationError(problem)
        if handle_in_use(handle, organization_id=self.membership.organization_id):
            raise forms.ValidationError(_("This handle is taken. Choose another one."))
        return handle


def _as_on_personal_pages(name: str, **changes: Any) -> forms.Field:
    """The personal page form's field ``name`` (``booking.forms.PageForm``): its choices, checks
    and words, translated already, with ``changes`` to its attributes."""
    field = copy.deepcopy(PageForm.base_fields[name])
    for attribute, value in changes.items():
        setattr(field, attribute, value)
    return field


class TeamPageForm(forms.Form):
    """A team page's settings and who is on it. Each member with a public profile has a row:
    on the page or not, and (round-robin) their weight and priority."""

    # Shown apart from the other settings, under their own headings.
    BUSY_OPTIONS = ("tentative_is_busy", "free_is_busy", "all_day_events")
    EMBEDDING = ("embed_on", "embed_origins")

    title = forms.CharField(label=_("Title"), max_length=120)
    slug = forms.SlugField(
        label=_("Address"), max_length=60, help_text=_("The last part of the page's address.")
    )
    kind = forms.ChoiceField(
        label=_("Who meets the attendee"),
        choices=[
            (TeamPage.Kind.COLLECTIVE, _("Collective: everyone meets the attendee")),
            (TeamPage.Kind.ROUND_ROBIN, _("Round-robin: one free member meets the attendee")),
        ],
    )
    description = forms.CharField(
        label=_("Description"), max_length=2000, required=False, widget=forms.Textarea({"rows": 3})
    )
    active = forms.BooleanField(label=_("Taking bookings"), required=False, initial=True)
    durations = forms.CharField(
        label=_("Meeting lengths (minutes)"),
        initial="30",
        help_text=_("Separated by commas; the first is the default."),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES, initial="UTC")
    minimum_notice = forms.IntegerField(
        label=_("Minimum notice (minutes)"), initial=240, min_value=0, max_value=60 * 24 * 30
    )
    horizon_days = forms.IntegerField(
        label=_("Bookable this many days ahead"), initial=60, min_value=1, max_value=365
    )
    increment = forms.IntegerField(
        label=_("Start times every (minutes)"), initial=30, min_value=5, max_value=240
    )
    buffer_before = forms.IntegerField(
        label=_("Free time before each member's meetings (minutes)"),
        initial=0,
        min_value=0,
        max_value=240,
    )
    buffer_after = forms.IntegerField(
        label=_("Free time after each member's meetings (minutes)"),
        initial=0,
        min_value=0,
        max_value=240,
    )
    max_per_day = forms.IntegerField(
        label=_("At most this many of these meetings per member and day"),
        required=False,
        min_value=1,
        max_value=100,
    )
    location = forms.ChoiceField(label=_("Location"), choices=BookingPage.Location.choices)
    location_detail = forms.CharField(
        label=_("Phone number, address or link"), max_length=500, required=False
    )
    tentative_is_busy = forms.BooleanField(
        label=_("Tentative events make members busy"), required=False, initial=True
    )
    free_is_busy = forms.BooleanField(
        label=_("Events marked free make members busy too"), required=False
    )
    all_day_events = _as_on_personal_pages("all_day_events")
    embed_on = _as_on_personal_pages(
        "embed_on",
        initial=BookingPage.EmbedOn.ANY_SITE,
        help_text=_(
            "Which websites may show this page inside their own pages. Its own link works "
            "whatever you choose."
        ),
    )
    embed_origins = _as_on_personal_pages("embed_origins")

    def __init__(
        self,
        *args: Any,
        membership: Membership,
        page: TeamPage | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.page = page
        self.membership = membership
        self.people: list[User] = [
            m.user
            for m in Membership.objects.filter(
                organization_id=membership.organization_id, user__booking_profile__isnull=False
            )
            .select_related("user", "user__booking_profile")
            .order_by("user__booking_profile__display_name", "user_id")
        ]
        current = {m.user_id: m for m in page.members.all()} if page is not None else {}
        self.member_rows: list[dict[str, Any]] = []
        for person in self.people:
            row = current.get(person.id)
            prefix = f"member_{person.id.hex}"
            self.fields[f"{prefix}_on"] = forms.BooleanField(
                label=person.booking_profile.display_name, required=False, initial=row is not None
            )
            self.fields[f"{prefix}_weight"] = forms.IntegerField(
                label=_("Weight"),
                initial=row.weight if row else 1,
                validators=[MinValueValidator(1), MaxValueValidator(100)],
            )
            self.fields[f"{prefix}_priority"] = forms.IntegerField(
                label=_("Priority (lowest first)"),
                initial=row.priority if row else 0,
                validators=[MinValueValidator(0), MaxValueValidator(100)],
            )
            self.member_rows.append(
                {
                    "person": person,
                    "on": self[f"{prefix}_on"],
                    "weight": self[f"{prefix}_weight"],
                    "priority": self[f"{prefix}_priority"],
                }
            )
        # The personal page editor's week: a switch and any periods a day, shown as stored.
        self.week = week_rows(
            self,
            page.weekly_hours if page is not None else DEFAULT_WEEKLY_HOURS,
            week_start=membership.user.week_start,
        )
        if page is not None and not self.is_bound:
            self._initial_from(page)

    def _initial_from(self, page: TeamPage) -> None:
        for name in (
            "title",
            "slug",
            "kind",
            "description",
            "active",
            "time_zone",
            "minimum_notice",
            "horizon_days",
            "increment",
            "buffer_before",
            "buffer_after",
            "max_per_day",
            "location",
            "location_detail",
            "tentative_is_busy",
            "free_is_busy",
            "all_day_events",
            "embed_on",
        ):
            self.initial[name] = getattr(page, name)
        self.initial["durations"] = ", ".join(str(minutes) for minutes in page.durations)
        # As text, the way the field shows it and a form posted as shown sends it back.
        self.initial["embed_origins"] = "\n".join(page.embed_origins)

    def weekday_fields(self) -> list[WeekDay]:
        """The weekly hours, a day each, from the day the admin's weeks start on."""
        return self.week

    @property
    def settings_fields(self) -> list[forms.BoundField]:
        apart = {*self.BUSY_OPTIONS, *self.EMBEDDING, *(day.switch.name for day in self.week)}
        return [
            field
            for field in self.visible_fields()
            if not field.name.startswith("member_") and field.name not in apart
        ]

    @property
    def busy_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.BUSY_OPTIONS]

    @property
    def embedding_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.EMBEDDING]

    def clean_durations(self) -> list[int]:
        try:
            minutes = [
                int(part) for part in self.cleaned_data["durations"].split(",") if part.strip()
            ]
        except ValueError:
            raise forms.ValidationError(_("Write whole minutes, separated by commas.")) from None
        if not minutes or any(not 5 <= length <= 24 * 60 for length in minutes):
            raise forms.ValidationError(_("Each length is 5 to 1440 minutes."))
        return list(dict.fromkeys(minutes))

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"].lower()
        taken = TeamPage.objects.filter(organization_id=self.membership.organization_id, slug=slug)
        if self.page is not None:
            taken = taken.exclude(id=self.page.id)
        if "--" in slug or taken.exists():
            raise forms.ValidationError(_("Another team page has this address."))
        return slug

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        data["weekly_hours"] = clean_week(self, self.week)
        if not any(data.get(f"member_{person.id.hex}_on") for person in self.people):
            self.add_error(None, _("Choose at least one member."))
        # Listed websites only: at least one, as on a personal page. The list is kept whatever
        # the choice, for when it is made again.
        listed = data.get("embed_on") == BookingPage.EmbedOn.LISTED_SITES
        if listed and not data.get("embed_origins") and "embed_origins" not in self.errors:
            self.add_error(
                "embed_origins",
                _("List at least one website, or choose another option for embedding."),
            )
        return data

    def settings(self) -> TeamPageSettings:
        data = self.cleaned_data
        return TeamPageSettings(
            kind=data["kind"],
            title=data["title"],
            description=data["description"],
            slug=data["slug"],
            active=data["active"],
            durations=tuple(data["durations"]),
            time_zone=data["time_zone"],
            weekly_hours=data["weekly_hours"],
            minimum_notice=data["minimum_notice"],
            horizon_days=data["horizon_days"],
            increment=data["increment"],
            buffer_before=data["buffer_before"],
            buffer_after=data["buffer_after"],
            max_per_day=data["max_per_day"],
            location=data["location"],
            location_detail=data["location_detail"],
            tentative_is_busy=data["tentative_is_busy"],
            free_is_busy=data["free_is_busy"],
            all_day_events=data["all_day_events"],
            embed_on=data["embed_on"],
            embed_origins=tuple(data["embed_origins"]),
        )

    def members(self) -> list[MemberSettings]:
        """The members chosen; each keeps the calendars they chose for the page before."""
        current = (
            {m.user_id: m for m in self.page.members.prefetch_related("busy_calendars")}
            if self.page is not None
            else {}
        )
        chosen = []
        for person in self.people:
            prefix = f"member_{person.id.hex}"
            if not self.cleaned_data.get(f"{prefix}_on"):
                continue
            row = current.get(person.id)
            chosen.append(
                MemberSettings(
                    user=person,
                    busy_calendars=tuple(row.busy_calendars.all()) if row else (),
                    write_calendar=row.write_calendar if row else None,
                    weight=self.cleaned_data[f"{prefix}_weight"],
                    priority=self.cleaned_data[f"{prefix}_priority"],
                )
            )
        return chosen


class TeamPageForms:
    """A team page's settings and members with its date overrides and questions: one form to the
    admin, saved at once (``teams.team_page_save``). The rows are the personal page editor's
    (``booking.forms``), so they read, check and keep what was typed alike."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        membership: Membership,
        page: TeamPage | None = None,
    ) -> None:
        self.form = TeamPageForm(data, membership=membership, page=page)
        self.overrides: BaseOverrideFormSet = override_formset(data, page)
        self.questions: BaseQuestionFormSet = question_formset(data, page)

    @property
    def has_errors(self) -> bool:
        return self.form.is_bound and not self.is_valid()

    def is_valid(self) -> bool:
        # Every part is checked, so that each shows its errors at once.
        results = [self.form.is_valid(), self.overrides.is_valid(), self.questions.is_valid()]
        return all(results)


class MemberCalendarsForm(forms.Form):
    """A member's own side of a team page: their calendars, which only they see."""

    busy_calendars = forms.ModelMultipleChoiceField(
        label=_("Calendars that make you busy"),
        queryset=Calendar.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every calendar you have, also ones you connect later."),
    )
    write_calendar = forms.ModelChoiceField(
        label=_("Calendar your meetings from this page are added to"),
        queryset=Calendar.objects.none(),
        required=False,
    )

    own_hours = forms.BooleanField(
        label=_("I meet only in hours of my own"),
        required=False,
        help_text=_("Off: the page's hours. On: times are offered to you only inside both."),
    )
    own_time_zone = forms.ChoiceField(
        label=_("My time zone"), choices=TIME_ZONE_CHOICES, initial="UTC", required=False
    )
    # The hours themselves are the personal page editor's week (``booking.forms.week_rows``).
    OWN_HOURS = ("own_hours", "own_time_zone")

    def __init__(self, *args: Any, member: TeamPageMember, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and member.weekly_hours:
            self.initial.update(
                own_hours=True, own_time_zone=member.time_zone or member.page.time_zone
            )
        elif not self.is_bound:
            self.initial["own_time_zone"] = member.page.time_zone
        # Without hours of their own, the page's are where the member starts from.
        self.week = week_rows(
            self, member.weekly_hours or member.page.weekly_hours, week_start=member.user.week_start
        )
        own = Calendar.objects.filter(connection__user_id=member.user_id).exclude(
            connection__status__in=Connection.RELEASED
        )
        busy_field = self.fields["busy_calendars"]
        write_field = self.fields["write_calendar"]
        assert isinstance(busy_field, forms.ModelMultipleChoiceField)
        assert isinstance(write_field, forms.ModelChoiceField)
        busy_field.queryset = own.order_by("name")
        write_field.queryset = own.filter(read_only=False).order_by("name")
        if not self.is_bound:
            self.initial["busy_calendars"] = (
                [] if member.busy_in_all_calendars else list(member.busy_calendars.all())
            )
            self.initial["write_calendar"] = member.write_calendar

    def weekday_fields(self) -> list[WeekDay]:
        """The member's weekly hours, a day each, from the day their weeks start on."""
        return self.week

    @property
    def calendar_fields(self) -> list[forms.BoundField]:
        return [self["busy_calendars"], self["write_calendar"]]

    @property
    def own_hours_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.OWN_HOURS]

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        # Hours of their own off: the rows are kept as shown and not checked.
        if not data.get("own_hours"):
            return data
        data["weekly_hours"] = clean_week(self, self.week)
        if not data["weekly_hours"] and not self.errors:
            self.add_error("own_hours", _("Choose at least one day."))
        return data

    def hours(self) -> tuple[str, dict[str, list[list[int]]]]:
        """The zone and weekly hours chosen, or ("", {}) for the page's own."""
        data = self.cleaned_data
        if not data.get("own_hours"):
            return "", {}
        return data["own_time_zone"], data["weekly_hours"]
