"""The organization's policy as its owners and admins set it (``orgs.policies``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.kinds import AccountKind
from orgs.policies import OrgPolicy, PolicySettings

# The visibility values of the rules; the most revealing one is no limit at all.
VISIBILITY_CHOICES = [
    ("", _("Full details (no limit)")),
    ("title", _("Title only")),
    ("busy", _("Busy only")),
]
KIND_CHOICES = [(kind.value, _(kind.label)) for kind in AccountKind]


class PolicyForm(forms.Form):
    max_visibility = forms.ChoiceField(
        label=_("The most a block copied out of the organization's calendars may show"),
        choices=VISIBILITY_CHOICES,
        required=False,
        widget=forms.RadioSelect,
        help_text=_(
            "Applies to calendars of accounts whose address is in one of the organization's "
            "verified domains, whoever connected them, and whatever their sync rules ask."
        ),
    )
    links_may_leave = forms.BooleanField(
        label=_("Locations and video-call links may leave those calendars"), required=False
    )
    allowed_kinds = forms.MultipleChoiceField(
        label=_("Kinds of account members may connect"),
        choices=KIND_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Accounts already connected keep working; new ones of an unticked kind are refused, "
            "and so is connecting one again or giving it a new password or link."
        ),
    )
    personal_accounts_allowed = forms.BooleanField(
        label=_("Members may connect Google and Microsoft accounts outside the verified domains"),
        required=False,
    )
    public_pages_allowed = forms.BooleanField(
        label=_("Members may publish booking pages"),
        required=False,
        help_text=_("When off, members' open pages are closed and kept as drafts."),
    )

    @classmethod
    def for_policy(cls, policy: OrgPolicy, data: Any = None) -> PolicyForm:
        return cls(
            data,
            initial={
                "max_visibility": policy.max_visibility if policy.max_visibility != "full" else "",
                "links_may_leave": policy.links_may_leave,
                "allowed_kinds": sorted(policy.allowed_kinds)
                or [kind.value for kind in AccountKind],
                "personal_accounts_allowed": policy.personal_accounts_allowed,
                "public_pages_allowed": policy.public_pages_allowed,
            },
        )

    def clean_allowed_kinds(self) -> list[str]:
        kinds = self.cleaned_data["allowed_kinds"]
        if not kinds:
            raise forms.ValidationError(_("Allow at least one kind of account."))
        return kinds

    def settings(self) -> PolicySettings:
        """The policy as set, once the form is valid (every kind ticked: no limit)."""
        data = self.cleaned_data
        kinds = set(data["allowed_kinds"])
        every = {kind.value for kind in AccountKind}
        return PolicySettings(
            max_visibility=data["max_visibility"],
            links_may_leave=data["links_may_leave"],
            allowed_kinds=() if kinds >= every else tuple(sorted(kinds)),
            personal_accounts_allowed=data["personal_accounts_allowed"],
            public_pages_allowed=data["public_pages_allowed"],
        )
