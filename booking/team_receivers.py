"""Team pages follow the organization's membership: whoever leaves it leaves its team pages. And
whatever writes an organization's handle, name, team pages or their members, dates and questions
(the services, the Django admin, a cascade) retires what the public pages keep about it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from booking.handles import handle_changed
from booking.models import OrgHandle, TeamDateOverride, TeamPage, TeamPageMember, TeamQuestion
from booking.services.teams import team_member_left
from booking.team_availability import forget_team_pages
from orgs.models import Membership, Organization


def _membership_ended(sender: type[Membership], instance: Membership, **kwargs: Any) -> None:

    organization_id, user_id = instance.organization_id, instance.user_id
    # Reads already leave out anyone without a membership; the rows go once that is committed.
    transaction.on_commit(
        lambda: team_member_left(organization_id=organization_id, user_id=user_id)
    )


def _handle_written(sender: type[OrgHandle], instance: OrgHandle, **kwargs: Any) -> None:
    handle_changed(instance.handle)


def _organization_changed(
    sender: type[Organization], instance: Organization, **kwargs: Any
) -> None:
    forget_team_pages(instance.id)


def _page_changed(sender: type[TeamPage], instance: TeamPage, **kwargs: Any) -> None:
    forget_team_pages(instance.organization_id)


def _part_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    """A member, date or question of a page: its organization, unless the page is gone with it
    (its own deletion retired the pages then)."""
    if str(kwargs.get("action", "post")).startswith("pre"):
        return  # the calendars a member is busy in: once they are written
    organization_id = (
        TeamPage.objects.filter(id=instance.page_id)
        .values_list("organization_id", flat=True)
        .first()
    )
    if organization_id is not None:
        forget_team_pages(organization_id)


def follow_memberships() -> None:
    post_delete.connect(_membership_ended, sender=Membership, dispatch_uid="booking.team_members")
    for signal in (post_save, post_delete):
        signal.connect(_handle_written, sender=OrgHandle, dispatch_uid="booking.org_handle")
        signal.connect(_page_changed, sender=TeamPage, dispatch_uid="booking.team_page_changed")
        for part in (TeamPageMember, TeamDateOverride, TeamQuestion):
            signal.connect(
                _part_changed, sender=part, dispatch_uid=f"booking.team_part_{part.__name__}"
            )
    post_save.connect(
        _organization_changed, sender=Organization, dispatch_uid="booking.team_organization"
    )
    m2m_changed.connect(
        _part_changed,
        sender=TeamPageMember.busy_calendars.through,
        dispatch_uid="booking.team_member_calendars",
    )
