"""The forms of single sign-on: an organization's issuer, and the address that finds it."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from multical.lib import oidc
from orgs.sso import MAX_TENANTS

# Tenant IDs may be typed one a line, or separated by commas or spaces.
_SEPARATORS = re.compile(r"[\s,;]+")


class SsoProviderForm(forms.Form):
    """The issuer, its client and the switches. The secret is never shown again: left blank, the
    stored one stays. The issuer is asked for its discovery document before anything is saved,
    so a typo is an error here, not at a member's next sign-in. A multi-tenant issuer (Entra's
    ``…/organizations/v2.0``) needs the tenant IDs it may sign people in from."""

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
    tenants = forms.CharField(
        label=_("Allowed tenant IDs"),
        required=False,
        max_length=MAX_TENANTS * 40,
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "Only for an issuer of several tenants (Entra ID's …/organizations/v2.0 or "
            "…/common/v2.0): the directory (tenant) IDs whose people may sign in, one a line."
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
            "Microsoft. Switching it on signs out everyone with such an address, from single "
            "sign-on too: they sign in again through your identity provider."
        ),
    )

    def __init__(self, *args: Any, has_secret: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_secret = has_secret
        self.multi_tenant = False
        if has_secret:
            self.fields["client_secret"].help_text = _("Stored. Leave empty to keep it.")

    def clean_issuer(self) -> str:
        issuer: str = self.cleaned_data["issuer"].rstrip("/")
        try:
            self.multi_tenant = oidc.is_multi_tenant(issuer)
        except oidc.OIDCError as error:
            raise forms.ValidationError(
                gettext(oidc.REASONS[error.reason]), code=error.reason
            ) from None
        return issuer

    def clean_tenants(self) -> list[str]:
        """Lower-case tenant IDs, each once; Entra's are GUIDs (a domain name never appears in
        a token's ``tid``)."""
        tenants = []
        for part in _SEPARATORS.split(self.cleaned_data["tenants"]):
            if not part:
                continue
            try:
                tenant = str(uuid.UUID(part))
            except ValueError:
                raise forms.ValidationError(
                    _("%(value)s is not a tenant ID (they look like %(example)s)."),
                    code="invalid",
                    params={"value": part[:40], "example": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"},
                ) from None
            if tenant not in tenants:
                tenants.append(tenant)
        if len(tenants) > MAX_TENANTS:
            raise forms.ValidationError(
                _("At most %(count)s tenants."), code="too_many", params={"count": MAX_TENANTS}
            )
        return tenants

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "issuer" in cleaned and "tenants" in cleaned:
            if self.multi_tenant and not cleaned["tenants"]:
                self.add_error(
                    "tenants",
                    _(
                        "This issuer signs in the people of many tenants: list the IDs of the "
                        "tenants whose people may sign in."
                    ),
                )
            elif not self.multi_tenant and cleaned["tenants"]:
                self.add_error(
                    "tenants", _("This issuer is a single tenant's: leave the tenant IDs empty.")
                )
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
