"""Reads of organizations, each through the reader's own membership: anyone else gets a 404."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from orgs.models import Invitation, Membership, OrgEvent, Role


def memberships_for_user(user: User) -> QuerySet[Membership]:
    """The user's memberships with their organizations, by organization name."""
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name", "organization_id")
    )


def get_membership_for_user(user: User, organization_id: object) -> Membership:
    """The user's membership of this organization; Http404 for anyone who is not a member."""
    return get_object_or_404(
        Membership.objects.select_related("organization", "user"),
        organization_id=organization_id,
        user=user,
    )


def get_admin_membership_for_user(user: User, organization_id: object) -> Membership:
    """As ``get_membership_for_user``, for pages only owners and admins see: a member gets the
    same 404 as an outsider, so admin pages reveal nothing to anyone else."""
    membership = get_membership_for_user(user, organization_id)
    if not membership.is_admin:
        raise Http404
    return membership


def members_of(membership: Membership) -> QuerySet[Membership]:
    """Everyone in the reader's organization, owners first."""
    return (
        Membership.objects.filter(organization_id=membership.organization_id)
        .select_related("user")
        .order_by(
            Case(
                When(role=Role.OWNER, then=Value(0)),
                When(role=Role.ADMIN, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            ),
            "user__email",
        )
    )


def get_member_by_user(membership: Membership, user_id: object) -> Membership:
    """The membership of the person ``user_id`` in the reader's organization; Http404 otherwise."""
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        user_id=user_id,
        organization_id=membership.organization_id,
    )


def pending_invitations(membership: Membership) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organization_id=membership.organization_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    ).order_by("-created_at")


def get_invitation(membership: Membership, invitation_id: object) -> Invitation:
    return get_object_or_404(
        Invitation.objects.select_related("organization"),
        id=invitation_id,
        organization_id=membership.organization_id,
    )


def events_of(membership: Membership) -> QuerySet[OrgEvent]:
    return OrgEvent.objects.filter(organization_id=membership.organization_id).select_related(
        "actor"
    )
