from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks.models import SUBSCRIBABLE_EVENTS


class SubscriptionForm(forms.Form):
    """The address and the events; the service checks the address (``subscription_url_check``)."""

    url = forms.CharField(
        label=_("Address"),
        max_length=1000,
        help_text=_("An https:// address of yours that accepts POST requests."),
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/multical"}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events to send"),
        choices=[(choice.value, choice.label) for choice in SUBSCRIBABLE_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )
