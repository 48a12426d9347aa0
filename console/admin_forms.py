"""The forms of the admin pages (``console.admin_views``)."""

from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.utils.translation import gettext_lazy as _

# Any work or school tenant: each administrator approves for the tenant they sign in to.
ANY_TENANT = "organizations"
# Names Microsoft's admin consent does not take: they are no tenant of administrators.
_NOT_TENANTS = frozenset({"common", "consumers"})
_domain = DomainNameValidator(accept_idna=False)


class ConsentTenantForm(forms.Form):
    """Which Microsoft Entra tenant the admin-consent link is for."""

    tenant = forms.CharField(
        label=_("Your Microsoft tenant"),
        max_length=253,
        initial=ANY_TENANT,
        help_text=_(
            "Your tenant ID (a GUID) or one of its domains, such as contoso.onmicrosoft.com. "
            "Leave “organizations” to approve for whichever tenant you sign in to."
        ),
    )

    def clean_tenant(self) -> str:
        """The tenant as the link names it: a GUID in its usual form, a domain in lower case,
        or ``organizations``."""
        tenant = self.cleaned_data["tenant"].strip().lower()
        if tenant == ANY_TENANT:
            return tenant
        if tenant in _NOT_TENANTS:
            raise ValidationError(
                _("Microsoft asks an administrator to approve for a tenant, not for “%(name)s”."),
                code="not_a_tenant",
                params={"name": tenant},
            )
        try:
            return str(uuid.UUID(tenant))
        except ValueError:
            pass
        try:
            _domain(tenant)  # a name with a top-level domain, nothing that could leave the path
        except ValidationError:
            raise ValidationError(
                _("Enter a tenant ID (a GUID) or a domain name, such as contoso.onmicrosoft.com."),
                code="invalid",
            ) from None
        return tenant
