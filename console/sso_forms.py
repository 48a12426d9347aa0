"""The forms of single sign-on: an organization's issuer, and the address that finds it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from multical.lib import oidc


class SsoProviderForm(forms.Form):
    """The issuer, its client and the switches. The secret is never shown again: left blank, the
    stored one stays. The issuer is asked for its discovery document before anything is saved,
    so a typo is an error here, not at a member's next sign-in."""

    issuer = forms.URLField(
        label=_("Issuer URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_(
            "As your identity provider names it: for Entra ID "
            "https://login.microsoftonline.com/(tenant ID)/v2.0, for Google "
            "https://accounts.google.com, for Okta https://(your domain).okta.com."
        ),
    )
    client_id = forms.CharField(label=_("Client ID"), max_length=255)
    client_secret = forms.CharField(
        label=_("Client secret"),
        max_length=1000,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    enabled = forms.BooleanField(label=_("Members may sign in with it"), required=False)
    required = forms.BooleanField(
        label=_("Require it for the addresses of our verified domains"),
        required=False,
        help_text=_(
            "People with such an address can then no longer sign in with a password, Google or "
            "Microsoft."
        ),
    )

    def __init__(self, *args: Any, has_secret: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_secret = has_secret
        if has_secret:
            self.fields["client_secret"].help_text = _("Stored. Leave empty to keep it.")

    def clean_issuer(self) -> str:
        issuer: str = self.cleaned_data["issuer"].rstrip("/")
        try:
            oidc.discover(issuer)
        except oidc.OIDCError as error:
            raise forms.ValidationError(
                gettext(oidc.REASONS[error.reason]), code=error.reason
            ) from None
        return issuer

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("enabled") and not (cleaned.get("client_secret") or self.has_secret):
            self.add_error(
                "client_secret", _("Enter the client secret your identity provider gave you.")
            )
        if cleaned.get("required") and not cleaned.get("enabled"):
            self.add_error("required", _("Single sign-on must be on before it can be required."))
        return cleaned


class SsoAddressForm(forms.Form):
    email = forms.EmailField(
        label=_("Work e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
