"""Organizations made, joined, left and run. Each service checks what the acting member's role
allows and raises ``OrgRefused`` (a message for the person) when it does not."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, get_random_string, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from multical.lib.email import send_templated_email
from orgs.models import (
    INVITATION_LIFETIME,
    ROLE_RANK,
    Invitation,
    Membership,
    Organization,
    OrgEvent,
    Role,
)

_DIGEST_SALT = "orgs.invitation.digest"
# 32 characters of 62: some 190 random bits.
_SECRET_LENGTH = 32


class OrgRefused(Exception):
    """What was asked is not allowed; ``message`` says why, in the person's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _digest(secret: str) -> str:
    return salted_hmac(_DIGEST_SALT, secret, algorithm="sha256").hexdigest()


def record_event(
    organization: Organization,
    action: OrgEvent.Action,
    *,
    actor: User | None,
    subject: str = "",
    role: str = "",
    ip_address: str | None = None,
) -> None:
    OrgEvent.objects.create(
        organization=organization,
        actor=actor,
        action=action,
        subject=subject,
        role=role,
        ip_address=ip_address,
    )


def organization_create(*, user: User, name: str, ip_address: str | None) -> Organization:
    """A new organization with ``user`` as its owner."""
    with transaction.atomic():
        organization = Organization.objects.create(name=name)
        Membership.objects.create(organization=organization, user=user, role=Role.OWNER)
        record_event(organization, OrgEvent.Action.CREATED, actor=user, ip_address=ip_address)
    return organization


def organization_rename(
    *, membership: Membership, name: str, ip_address: str | None
) -> Organization:
    require_admin(membership)
    organization = membership.organization
    if organization.name != name:
        with transaction.atomic():
            organization.name = name
            organization.save(update_fields=["name"])
            record_event(
                organization,
                OrgEvent.Action.RENAMED,
                actor=membership.user,
                subject=name,
                ip_address=ip_address,
            )
    return organization


def invitation_create(
    *, membership: Membership, email: str, role: Role, ip_address: str | None
) -> tuple[Invitation, str]:
    """Invite ``email`` to join with ``role``, by e-mail (sent once the invitation is stored).
    Returns the invitation and its link's token (``<id>.<secret>``), which nothing keeps.

    Admins invite members and admins; only an owner invites an owner. Inviting an address that
    already has a pending invitation replaces it: the earlier link stops working.
    """
    require_admin(membership)
    _require_may_grant(membership, role)
    organization = membership.organization
    email = email.strip().lower()
    if organization.memberships.filter(user__email=email).exists():
        raise OrgRefused(_("%(email)s is already a member.") % {"email": email})
    secret = get_random_string(_SECRET_LENGTH)
    now = timezone.now()
    with transaction.atomic():
        organization.invitations.filter(
            email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            digest=_digest(secret),
            invited_by=membership.user,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        record_event(
            organization,
            OrgEvent.Action.INVITED,
            actor=membership.user,
            subject=email,
            role=role,
            ip_address=ip_address,
        )
        token = f"{invitation.id}.{secret}"
        link = settings.SITE_URL + reverse("console:invitation_accept", args=[token])
        transaction.on_commit(
            lambda: send_templated_email(
                to=email,
                template="orgs/email/invitation",
                context={
                    "organization": organization.name,
                    "inviter": membership.user.email,
                    "role": invitation.get_role_display(),
                    "link": link,
                },
            )
        )
    return invitation, token


def invitation_revoke(
    *, membership: Membership, invitation: Invitation, ip_address: str | None
) -> None:
    require_admin(membership)
    with transaction.atomic():
        revoked = Invitation.objects.filter(
            id=invitation.id, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if revoked:
            record_event(
                invitation.organization,
                OrgEvent.Action.INVITATION_REVOKED,
                actor=membership.user,
                subject=invitation.email,
                ip_address=ip_address,
            )


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link's ``<id>.<secret>`` names, whatever its state; None for a wrong one."""
    identifier, _dot, secret = token.partition(".")
    try:
        invitation_id = uuid.UUID(identifier)
    except ValueError:
        return None
    invitation = Invitation.objects.select_related("organization").filter(id=invitation_id).first()
    if invitation is None or not constant_time_compare(invitation.digest, _digest(secret)):
        return None
    return invitation


# Why an invitation cannot be accepted, said to the person holding the link.
INVITATION_GONE = gettext_lazy("This invitation was withdrawn or replaced by a newer one.")
INVITATION_EXPIRED = gettext_lazy(
    "This invitation has expired. Ask the person who invited you to send a new one."
)
INVITATION_USED = gettext_lazy("This invitation has already been accepted.")


def invitation_refusal(invitation: Invitation, user: User) -> str | None:
    """Why ``user`` cannot accept ``invitation`` now, or None when they can."""
    if invitation.accepted_at is not None:
        return str(INVITATION_USED)
    if invitation.revoked_at is not None:
        return str(INVITATION_GONE)
    if invitation.expired(timezone.now()):
        return str(INVITATION_EXPIRED)
    if user.email != invitation.email:
        return _(
            "This invitation is for %(invited)s, and you are signed in as %(you)s. Sign in with "
            "the invited address, or ask for an invitation to yours."
        ) % {"invited": invitation.email, "you": user.email}
    if not user.email_verified:
        return _("Confirm your e-mail address first: open the link we e-mailed you, then this one.")
    return None


def invitation_accept(*, invitation: Invitation, user: User, ip_address: str | None) -> Membership:
    """``user`` joins with the invitation's role; ``OrgRefused`` when they cannot (see
    ``invitation_refusal``). Accepting twice at once makes one membership."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(id=invitation.id)
        refusal = invitation_refusal(locked, user)
        if refusal is not None:
            raise OrgRefused(refusal)
        organization = locked.organization
        existing = organization.memberships.filter(user=user).first()
        if existing is not None:
            membership = existing
        else:
            try:
                with transaction.atomic():
                    membership = Membership.objects.create(
                        organization=organization, user=user, role=locked.role
                    )
            except IntegrityError:
                membership = organization.memberships.get(user=user)
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        record_event(
            organization,
            OrgEvent.Action.JOINED,
            actor=user,
            subject=user.email,
            role=membership.role,
            ip_address=ip_address,
        )
    return membership


def membership_change_role(
    *, membership: Membership, target: Membership, role: Role, ip_address: str | None
) -> None:
    """Give ``target`` the role ``role``. Admins move people between member and admin; only an
    owner makes or unmakes an owner, and the last owner stays one."""
    require_admin(membership)
    if target.role == role:
        return
    _require_may_grant(membership, Role(target.role))
    _require_may_grant(membership, role)
    with transaction.atomic():
        _lock_owners(target.organization)
        target.refresh_from_db(fields=["role"])
        if target.role == Role.OWNER and _owner_count(target.organization) == 1:
            raise OrgRefused(_("An organization needs an owner: make someone else owner first."))
        target.role = role
        target.save(update_fields=["role"])
        record_event(
            target.organization,
            OrgEvent.Action.ROLE_CHANGED,
            actor=membership.user,
            subject=target.user.email,
            role=role,
            ip_address=ip_address,
        )


def membership_remove(
    *, membership: Membership, target: Membership, ip_address: str | None
) -> None:
    """Remove ``target``: their access ends at once, their own calendars, rules and pages stay
    theirs. Admins remove members and admins; only an owner removes an owner, never the last."""
    require_admin(membership)
    _require_may_grant(membership, Role(target.role))
    if target.id == membership.id:
        membership_leave(membership=membership, ip_address=ip_address)
        return
    _end(target, action=OrgEvent.Action.REMOVED, actor=membership.user, ip_address=ip_address)


def membership_leave(*, membership: Membership, ip_address: str | None) -> None:
    """The member leaves; the last owner cannot (they delete the organization or hand it on)."""
    _end(membership, action=OrgEvent.Action.LEFT, actor=membership.user, ip_address=ip_address)


def _end(
    target: Membership, *, action: OrgEvent.Action, actor: User, ip_address: str | None
) -> None:
    organization = target.organization
    with transaction.atomic():
        _lock_owners(organization)
        current = Membership.objects.filter(id=target.id).first()
        if current is None:
            return
        if current.role == Role.OWNER and _owner_count(organization) == 1:
            raise OrgRefused(_("An organization needs an owner: make someone else owner first."))
        current.delete()
        record_event(
            organization, action, actor=actor, subject=target.user.email, ip_address=ip_address
        )


def organization_delete(*, membership: Membership) -> None:
    """The owner deletes the organization: memberships and invitations go with it; every
    member's own calendars, rules and pages stay theirs."""
    if not membership.is_owner:
        raise OrgRefused(_("Only an owner can delete the organization."))
    membership.organization.delete()


def require_admin(membership: Membership) -> None:
    if not membership.is_admin:
        raise OrgRefused(_("Only the organization's owners and admins can do this."))


def _require_may_grant(membership: Membership, role: Role) -> None:
    """Nobody hands out, or takes away, a role above their own."""
    if ROLE_RANK[role] > ROLE_RANK[Role(membership.role)]:
        raise OrgRefused(_("Only an owner can make, remove or change an owner."))


def _lock_owners(organization: Organization) -> None:
    """Serialises changes that could leave the organization without an owner: two owners
    demoting each other at once must not both succeed."""
    Organization.objects.select_for_update().filter(id=organization.id).first()


def _owner_count(organization: Organization) -> int:
    return organization.memberships.filter(role=Role.OWNER).count()
