from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.utils.translation import gettext_lazy as _

from orgs.models import ROLE_RANK, Membership, Role

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class OrganizationForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("As your members know it, e.g. your company's name."),
    )


def _roles_up_to(membership: Membership) -> list[tuple[str, StrOrPromise]]:
    """The roles ``membership`` may hand out: none above its own."""
    rank = ROLE_RANK[Role(membership.role)]
    return [(role.value, role.label) for role in Role if ROLE_RANK[role] <= rank]


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), initial=Role.MEMBER)

    def __init__(self, *args: object, membership: Membership, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = _roles_up_to(membership)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args: object, membership: Membership, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = _roles_up_to(membership)
