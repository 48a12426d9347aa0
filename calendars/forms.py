from __future__ import annotations

import re

from django import forms

from multical.lib import safe_http

# Apple shows app-specific passwords as four groups of four lowercase letters.
APP_SPECIFIC_PASSWORD = re.compile(r"^[a-z]{4}-?[a-z]{4}-?[a-z]{4}-?[a-z]{4}$")


class ICloudConnectForm(forms.Form):
    apple_id = forms.EmailField(
        label="Apple ID",
        widget=forms.EmailInput(attrs={"autocomplete": "username"}),
        help_text="The e-mail address you sign in to iCloud with.",
    )
    app_password = forms.CharField(
        label="App-specific password",
        strip=True,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "placeholder": "abcd-efgh-ijkl-mnop"}
        ),
        help_text="Not your Apple ID password: a separate password Apple makes for one app (see above).",
    )

    def clean_app_password(self) -> str:
        return _checked_app_password(self.cleaned_data["app_password"])


class CalDAVConnectForm(forms.Form):
    server_url = forms.URLField(
        label="Server address",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://dav.example.com/"}),
        help_text="Your provider's CalDAV address, for example https://caldav.fastmail.com/ or your Nextcloud's "
        "https://cloud.example.com/remote.php/dav/.",
    )
    username = forms.CharField(
        label="User name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )

    def clean_server_url(self) -> str:
        return _checked_url(self.cleaned_data["server_url"])


class ICSLinkUpdateForm(forms.Form):
    url = forms.CharField(
        label="iCal link",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "webcal://… or https://…/calendar.ics"}),
        help_text="The calendar's secret address in iCal format. It is stored encrypted.",
    )

    def clean_url(self) -> str:
        return _checked_url(self.cleaned_data["url"].strip())


class ICSConnectForm(ICSLinkUpdateForm):
    label = forms.CharField(
        label="Label (optional)",
        max_length=200,
        required=False,
        help_text="How this calendar is called here; by default the name the feed gives itself.",
    )


class PasswordUpdateForm(forms.Form):
    password = forms.CharField(
        label="New password", widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )


class ICloudPasswordUpdateForm(PasswordUpdateForm):
    password = forms.CharField(
        label="New app-specific password",
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
        raise forms.ValidationError(str(error)) from None


def _checked_app_password(password: str) -> str:
    password = password.lower()
    if not APP_SPECIFIC_PASSWORD.match(password):
        raise forms.ValidationError(
            "App-specific passwords are 16 letters, shown as abcd-efgh-ijkl-mnop. "
            "Your Apple ID password does not work here."
        )
    return password
