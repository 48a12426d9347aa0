from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from multical.lib import safe_http

# Apple shows app-specific passwords as four groups of four lowercase letters.
APP_SPECIFIC_PASSWORD = re.compile(r"^[a-z]{4}-?[a-z]{4}-?[a-z]{4}-?[a-z]{4}$")


class ICloudConnectForm(forms.Form):
    apple_id = forms.EmailField(
        label=_("Apple ID"),
        widget=forms.EmailInput(attrs={"autocomplete": "username"}),
        help_text=_("The e-mail address you sign in to iCloud with."),
    )
    app_password = forms.CharField(
        label=_("App-specific password"),
        strip=True,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "placeholder": "abcd-efgh-ijkl-mnop"}
        ),
        help_text=_(
            "Not your Apple ID password: a separate password Apple makes for one app (see above)."
        ),
    )

    def clean_app_password(self) -> str:
        return _checked_app_password(self.cleaned_data["app_password"])


class CalDAVConnectForm(forms.Form):
    server_url = forms.URLField(
        label=_("Server address"),
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://dav.example.com/"}),
        help_text=_(
            "Your provider's CalDAV address, for example https://caldav.fastmail.com/ or your "
            "Nextcloud's https://cloud.example.com/remote.php/dav/."
        ),
    )
    username = forms.CharField(
        label=_("User name"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )

    def clean_server_url(self) -> str:
        return _checked_url(self.cleaned_data["server_url"])


class ICSLinkUpdateForm(forms.Form):
    url = forms.CharField(
        label=_("iCal link"),
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "webcal://… or https://…/calendar.ics"}),
        help_text=_("The calendar's secret address in iCal format. It is stored encrypted."),
    )

    def clean_url(self) -> str:
        return _checked_url(self.cleaned_data["url"].strip())


class ICSConnectForm(ICSLinkUpdateForm):
    label = forms.CharField(
        label=_("Label (optional)"),
        max_length=200,
        required=False,
        help_text=_("How this calendar is called here; by default the name the feed gives itself."),
    )


class PasswordUpdateForm(forms.Form):
    password = forms.CharField(
        label=_("New password"), widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )


class ICloudPasswordUpdateForm(PasswordUpdateForm):
    password = forms.CharField(
        label=_("New app-specific password"),
        strip=True,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "placeholder": "abcd-efgh-ijkl-mnop"}
        ),
    )

    def clean_password(self) -> str:
        return _checked_app_password(self.cleaned_data["password"])


def _checked_url(url: str) -> str:
    try:
        return safe_http.validate_url(url)
    except safe_http.UnsafeURLError as error:
        # safe_http words its refusals in English; the person typing reads them in theirs.
        raise forms.ValidationError(gettext(str(error))) from None


def _checked_app_password(password: str) -> str:
    password = password.lower()
    if not APP_SPECIFIC_PASSWORD.match(password):
        raise forms.ValidationError(
            _(
                "App-specific passwords are 16 letters, shown as abcd-efgh-ijkl-mnop. "
                "Your Apple ID password does not work here."
            )
        )
    return password
