from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator, ModelChoiceIteratorValue
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from calendars.models import Calendar
from orgs.policies import OrgPolicy, capped_visibility
from syncrules import engine, selectors
from syncrules.choices import ALL_DAY_CHOICES
from syncrules.models import SyncRule
from syncrules.services import RuleSettings

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

KEYWORDS_MAX = 50
KEYWORD_MAX_LENGTH = 100
WEEKDAYS = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]


def weekdays_from(week_start: int) -> list[tuple[int, StrPromise]]:
    """``WEEKDAYS`` (ISO numbers, Monday 1 to Sunday 7) in the order of a week that starts on
    ``week_start`` (``User.week_start``: Monday 1, Saturday 6, Sunday 0)."""
    first = week_start or 7
    return sorted(WEEKDAYS, key=lambda day: (day[0] - first) % 7)


OVERLAP_LABEL = _("Save anyway: one block per event where the rules meet")


def translated(choices: Iterable[tuple[str, str]]) -> list[tuple[str, StrPromise]]:
    """``choices`` with their labels in the reader's language: the labels of ``syncrules.choices``
    are English (the planner imports no Django) and marked there for the catalogues."""
    return [(value, gettext_lazy(label)) for value, label in choices]


class CalendarChoiceIterator(ModelChoiceIterator):
    """The user's calendars as choices grouped by connection: (account label, [choices])."""

    # Django's widgets take grouped choices from a field too; the stubs type this iterator's
    # choices as (value, label) pairs only.
    def __iter__(  # type: ignore[override]
        self,
    ) -> Iterator[tuple[str, list[tuple[ModelChoiceIteratorValue, str]]]]:
        groups: dict[object, tuple[str, list[tuple[ModelChoiceIteratorValue, str]]]] = {}
        for calendar in self.queryset:
            group = groups.setdefault(calendar.connection_id, (calendar.connection.label, []))
            group[1].append(self.choice(calendar))
        yield from groups.values()


class CalendarCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes in one fieldset per connection; read-only calendars can be shown but not ticked."""

    template_name = "syncrules/calendar_checkboxes.html"

    def __init__(self, *, writable_only: bool = False) -> None:
        super().__init__()
        self.writable_only = writable_only

    def create_option(
        self,
        name: str,
        value: Any,
        label: int | str,
        selected: bool,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        calendar = getattr(value, "instance", None)
        option["calendar"] = calendar
        if self.writable_only and calendar is not None and calendar.read_only:
            option["attrs"]["disabled"] = True
        return option


class CalendarsField(forms.ModelMultipleChoiceField):
    iterator = CalendarChoiceIterator

    def label_from_instance(self, calendar: Calendar) -> str:
        return calendar.name


class KeywordsField(forms.CharField):
    """Comma-separated words → a list (trimmed, without repeats); stored as the user wrote them."""

    def __init__(self, *, label: StrPromise, help_text: StrPromise) -> None:
        super().__init__(label=label, help_text=help_text, required=False, max_length=2000)

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def clean(self, value: object) -> list[str]:
        text = super().clean(value)
        words: list[str] = []
        for word in text.split(","):
            word = " ".join(word.split())
            if word and word.casefold() not in {known.casefold() for known in words}:
                words.append(word)
        if len(words) > KEYWORDS_MAX:
            raise forms.ValidationError(
                _("Use at most %(count)s keywords.") % {"count": KEYWORDS_MAX}
            )
        if any(len(word) > KEYWORD_MAX_LENGTH for word in words):
            raise forms.ValidationError(
                _("Keep each keyword under %(count)s characters.") % {"count": KEYWORD_MAX_LENGTH}
            )
        return words


def limit_calendars(field: forms.Field, calendars: QuerySet[Calendar]) -> None:
    """Offer ``calendars`` as the only choices of ``field``, a form's field of calendars."""
    # A form's fields are typed as any field; this one was declared as a model choice field.
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = calendars


def _calendars_field(
    *, label: StrPromise, help_text: StrPromise, required_message: StrPromise, writable_only: bool
) -> CalendarsField:
    return CalendarsField(
        queryset=Calendar.objects.none(),
        label=label,
        help_text=help_text,
        widget=CalendarCheckboxes(writable_only=writable_only),
        error_messages={
            "required": required_message,
            "invalid_choice": _("Choose among your own calendars."),
            "invalid_pk_value": _("Choose among your own calendars."),
        },
    )


class RuleForm(forms.Form):
    """A sync rule's settings. Only the user's own calendars are choices; read-only ones only as sources."""

    name = forms.CharField(label=_("Name"), max_length=120)
    sources = _calendars_field(
        label=_("Copy events from"),
        help_text=_("The source calendars. Read-only calendars (iCal links) can be sources."),
        required_message=_("Choose at least one calendar to copy events from."),
        writable_only=False,
    )
    targets = _calendars_field(
        label=_("Block time in"),
        help_text=_("The target calendars, where Multical writes the blocks."),
        required_message=_("Choose at least one calendar to block time in."),
        writable_only=True,
    )
    visibility = forms.ChoiceField(
        label=_("What the blocks show"),
        choices=translated(SyncRule.Visibility.choices),
        widget=forms.RadioSelect(attrs={"class": "inline-choices"}),
    )
    busy_title = forms.CharField(
        label=_("Title of the blocks"),
        max_length=120,
        help_text=_("Used when the blocks show busy only."),
    )
    show_location = forms.BooleanField(label=_("Show the location"), required=False)
    show_video_link = forms.BooleanField(
        label=_("Show the video-call link"),
        required=False,
        help_text=_(
            "When off, Meet, Zoom, Teams and Webex links are also removed from the "
            "location and the description."
        ),
    )
    include_keywords = KeywordsField(
        label=_("Copy only events whose title contains"),
        help_text=_("Words separated by commas. Leave empty to copy events whatever their title."),
    )
    exclude_keywords = KeywordsField(
        label=_("Never copy events whose title contains"),
        help_text=_("Words separated by commas, for example: lunch, gym."),
    )
    skip_declined = forms.BooleanField(label=_("Skip invitations I declined"), required=False)
    skip_free = forms.BooleanField(label=_("Skip events marked free"), required=False)
    tentative = forms.ChoiceField(
        label=_("Tentative events"), choices=translated(SyncRule.Handling.choices)
    )
    all_day = forms.ChoiceField(label=_("All-day events"), choices=translated(ALL_DAY_CHOICES))
    show_as = forms.ChoiceField(
        label=_("Show blocks as"), choices=translated(SyncRule.ShowAs.choices)
    )
    lookahead_days = forms.IntegerField(
        label=_("Days ahead"),
        min_value=1,
        max_value=365,
        help_text=_("How far into the future events are copied (1 to 365 days)."),
        error_messages={
            "min_value": _("Choose between 1 and 365 days."),
            "max_value": _("Choose between 1 and 365 days."),
        },
    )
    lookback_days = forms.IntegerField(
        label=_("Days back"),
        min_value=0,
        max_value=30,
        help_text=_("How many past days keep their blocks (0 to 30)."),
        error_messages={
            "min_value": _("Choose between 0 and 30 days."),
            "max_value": _("Choose between 0 and 30 days."),
        },
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Only on these days"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "inline-choices"}),
        help_text=_("Leave all unticked to copy events on every day."),
    )
    working_hours_start = forms.TimeField(
        label=_("Working hours from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    working_hours_end = forms.TimeField(
        label=_("to"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_(
            "Copy only events that overlap these hours, in your time zone. Leave both "
            "empty to copy events at any time."
        ),
    )
    enabled = forms.BooleanField(label=_("Rule is on"), required=False)
    overlap_ok = forms.BooleanField(label=OVERLAP_LABEL, required=False)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        user: User,
        rule: SyncRule | None = None,
        for_preview: bool = False,
    ) -> None:
        super().__init__(data, initial=_initial(rule))
        self.user, self.rule, self.for_preview = user, rule, for_preview
        weekdays = cast(forms.TypedMultipleChoiceField, self.fields["weekdays"])
        weekdays.choices = weekdays_from(user.week_start)
        calendars = selectors.calendars_for_user(user)
        limit_calendars(self.fields["sources"], calendars)
        limit_calendars(self.fields["targets"], calendars)
        # The organizations' policies over the user's accounts (one query): what blocks out of
        # their calendars may show, said up front and held to when the form is sent.
        connections = {calendar.connection for calendar in calendars}
        self.policies: dict[object, OrgPolicy] = engine.source_policies(connections)
        self.policy_notes = [
            (policy_note(policy, connection.label), policy.organization_id)
            for connection in sorted(connections, key=lambda c: c.created_at)
            if (policy := self.policies.get(connection.id)) is not None and policy.caps_blocks
        ]
        if for_preview:
            # A preview needs calendars and options, not yet a name.
            self.fields["name"].required = False

    def clean_targets(self) -> list[Calendar]:
        targets = self.cleaned_data["targets"]
        read_only = [calendar.name for calendar in targets if calendar.read_only]
        if read_only:
            raise forms.ValidationError(
                ngettext(
                    "%(names)s is read-only: Multical cannot write blocks there. Use it as a "
                    "source instead.",
                    "%(names)s are read-only: Multical cannot write blocks there. Use them as "
                    "sources instead.",
                    len(read_only),
                )
                % {"names": _names(read_only)}
            )
        return targets

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        both = set(data.get("sources") or ()) & set(data.get("targets") or ())
        if both:
            names = _names(sorted(calendar.name for calendar in both))
            self.add_error(
                "targets",
                _(
                    "%(names)s cannot be both a source and a target of the same rule: "
                    "untick it on one side."
                )
                % {"names": names},
            )
        start, end = data.get("working_hours_start"), data.get("working_hours_end")
        if (start is None) != (end is None) and not self._has_error_on_working_hours():
            self.add_error(
                "working_hours_end" if end is None else "working_hours_start",
                _("Give both the start and the end of your working hours, or neither."),
            )
        elif start is not None and end is not None and start >= end:
            self.add_error("working_hours_end", _("Working hours must end after they start."))
        if not self.for_preview:
            self._hold_to_policies(data)
        if data.get("enabled") and not self.for_preview and not data.get("overlap_ok"):
            overlaps = selectors.overlapping_rules(
                self.user,
                sources=data.get("sources") or (),
                targets=data.get("targets") or (),
                excluding=self.rule,
            )
            if overlaps:
                self.add_error("overlap_ok", overlap_warning(overlaps))
        return data

    def settings(self) -> RuleSettings:
        """The rule's own settings, once the form is valid."""
        return RuleSettings.from_values(self.cleaned_data)

    def _hold_to_policies(self, data: dict[str, Any]) -> None:
        """Refuse what an organization's policy would not let out of a chosen source: the engine
        caps the blocks whatever the rule says, so the rule must not promise more."""
        for calendar in data.get("sources") or ():
            policy = self.policies.get(calendar.connection_id)
            if policy is None:
                continue
            visibility = data.get("visibility")
            if visibility and capped_visibility(visibility, policy) != visibility:
                self.add_error("visibility", policy_note(policy, calendar.connection.label))
            if not policy.links_may_leave:
                for name in ("show_location", "show_video_link"):
                    if data.get(name):
                        self.add_error(name, policy_note(policy, calendar.connection.label))
            if self.errors:
                return

    def _has_error_on_working_hours(self) -> bool:
        return "working_hours_start" in self.errors or "working_hours_end" in self.errors


class BlockEachOtherForm(forms.Form):
    calendars = CalendarsField(
        queryset=Calendar.objects.none(),
        label=_("Calendars that block each other"),
        help_text=_(
            "Each one gets a rule that copies its events into all the others, as busy "
            "blocks titled “Busy”. You can change each rule afterwards."
        ),
        widget=CalendarCheckboxes(),
        error_messages={
            "required": _("Choose at least two calendars."),
            "invalid_choice": _("Choose among your own calendars that Multical can write to."),
            "invalid_pk_value": _("Choose among your own calendars that Multical can write to."),
        },
    )

    overlap_ok = forms.BooleanField(label=OVERLAP_LABEL, required=False)

    def __init__(self, data: Mapping[str, Any] | None = None, *, user: User) -> None:
        super().__init__(data)
        self.user = user
        limit_calendars(self.fields["calendars"], selectors.writable_calendars_for_user(user))

    def clean_calendars(self) -> list[Calendar]:
        calendars = self.cleaned_data["calendars"]
        if len(calendars) < 2:
            raise forms.ValidationError(_("Choose at least two calendars."))
        return calendars

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        calendars = data.get("calendars") or ()
        if calendars and not data.get("overlap_ok"):
            overlaps = selectors.overlapping_rules(self.user, sources=calendars, targets=calendars)
            if overlaps:
                self.add_error("overlap_ok", overlap_warning(overlaps))
        return data


def policy_note(policy: OrgPolicy, account: str) -> str:
    """What ``policy`` lets out of the calendars of ``account``, in one or two sentences."""
    words = {"organization": policy.organization_name, "account": account}
    if policy.max_visibility == SyncRule.Visibility.BUSY:
        note = (
            _(
                "Your organization %(organization)s allows Busy only here: blocks from %(account)s show no more."
            )
            % words
        )
    elif policy.max_visibility == SyncRule.Visibility.TITLE:
        note = (
            _(
                "Your organization %(organization)s allows titles at most here: blocks from %(account)s show no details."
            )
            % words
        )
    else:
        note = ""
    if not policy.links_may_leave:
        links = (
            _("Locations and video-call links from %(account)s never leave it (%(organization)s).")
            % words
        )
        note = f"{note} {links}" if note else links
    return note


def overlap_warning(overlaps: list[selectors.Overlap]) -> str:
    """What saving a rule over the same calendars as others means, said before it is saved."""
    said = "; ".join(
        gettext("“%(rule)s” already copies %(pairs)s")
        % {
            "rule": overlap.rule.name,
            "pairs": ", ".join(
                gettext("%(source)s into %(target)s")
                % {"source": source.name, "target": target.name}
                for source, target in overlap.pairs
            ),
        }
        for overlap in overlaps
    )
    return gettext(
        "%(overlaps)s. An event copied by two rules into the same calendar gets one block there, "
        "shown as the more private of the rules says. Tick the box to save anyway."
    ) % {"overlaps": said}


def _initial(rule: SyncRule | None) -> dict:
    settings_from = rule or SyncRule()
    initial = asdict(RuleSettings.of(settings_from))
    if rule is not None:
        initial["sources"] = list(rule.sources.all())
        initial["targets"] = list(rule.targets.all())
    return initial


def _names(names: list[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return gettext("%(names)s and %(last)s") % {"names": ", ".join(quoted[:-1]), "last": quoted[-1]}
