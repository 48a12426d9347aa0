"""The forms of the console's domain pages: a name to add, capture on or off."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from orgs.domains import normalize_domain
from orgs.services import OrgRefused


class DomainForm(forms.Form):
    name = forms.CharField(
        label=_("Domain"),
        max_length=253,
        help_text=_(
            "The part of your people's e-mail addresses after the @, such as example.com. "
            "You prove it is yours with a DNS record."
        ),
    )

    def clean_name(self) -> str:
        try:
            return normalize_domain(self.cleaned_data["name"])
        except OrgRefused as refusal:
            raise forms.ValidationError(refusal.message) from None


class CaptureForm(forms.Form):
    capture = forms.BooleanField(
        label=_("People who confirm an address of this domain join the organization"),
        required=False,
    )
