from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api.scopes import Scope

# Keys last at most this long; a key without an end date is allowed but not the default.
LONGEST = timedelta(days=366 * 2)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What uses the key, so you can tell keys apart: “Zapier”, “office dashboard”."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("What the key may do"),
        choices=Scope.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "A key that may change something may also read it. With none ticked, the key reads only your account's name and time zone."
        ),
    )
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_(
            "The key stops working at the end of this day, in your time zone. Leave empty for a key that works until you revoke it."
        ),
    )

    def __init__(self, *args: object, time_zone: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.zone = ZoneInfo(time_zone)

    def clean_expires_on(self) -> object:
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        today = timezone.now().astimezone(self.zone).date()
        if day < today:
            raise forms.ValidationError(_("Choose today or a later day."))
        if day > today + LONGEST:
            raise forms.ValidationError(_("Choose a day within two years."))
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=self.zone)
