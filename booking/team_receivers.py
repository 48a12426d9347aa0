"""Team pages follow the organization's membership: whoever leaves it leaves its team pages. And
whatever writes an organization's handle (the service, the admin, a cascade) retires what the
public pages keep about it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from booking.handles import handle_changed
from booking.models import OrgHandle
from booking.services.teams import team_member_left
from orgs.models import Membership


def _membership_ended(sender: type[Membership], instance: Membership, **kwargs: Any) -> None:

    organization_id, user_id = instance.organization_id, instance.user_id
    # Reads already leave out anyone without a membership; the rows go once that is committed.
    transaction.on_commit(
        lambda: team_member_left(organization_id=organization_id, user_id=user_id)
    )


def _handle_written(sender: type[OrgHandle], instance: OrgHandle, **kwargs: Any) -> None:
    handle_changed(instance.handle)


def follow_memberships() -> None:
    post_delete.connect(_membership_ended, sender=Membership, dispatch_uid="booking.team_members")
    for signal in (post_save, post_delete):
        signal.connect(_handle_written, sender=OrgHandle, dispatch_uid="booking.org_handle")
