"""Organizations: people who work together, each keeping their own calendars, rules and pages.

A membership gives a role in one organization; a person may hold several. Nothing of a member's
own (connections, rules, pages, bookings) belongs to the organization: ending a membership ends
the organization's view of the member and leaves their data as it was. An invitation is reached by
a link whose secret is kept only as a keyed digest, and is for one e-mail address.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Subscription
from multical.lib.vault import SealedTextField

# An invitation link works for this long.
INVITATION_LIFETIME = timedelta(days=7)


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")


# What each role may do is ordered: an owner may do all an admin may, an admin all a member may.
ROLE_RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("Name"), max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="org_memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="orgs_membership_one_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organization_id} as {self.role}"

    @property
    def is_admin(self) -> bool:
        """Owners and admins run the organization; members use it."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role.ADMIN]

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self, *, now: datetime) -> InvitationQuerySet:
        """Neither accepted nor revoked, and not yet expired."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


class Invitation(models.Model):
    """An invitation for one address to join with one role.

    The link carries ``<id>.<secret>``; only a keyed digest of the secret is stored, so the
    database alone cannot be used to join. An address has at most one pending invitation per
    organization: inviting again replaces it with a new link.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    # Lower-cased, as accounts stores addresses.
    email = models.EmailField(_("E-mail address"))
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    digest = models.CharField(max_length=64)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="orgs_invitation_one_pending_per_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.role}"

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


class OrgEvent(models.Model):
    """A line of the organization's own audit log: who did what to its membership and settings.

    ``subject`` names whom it was done to (an address or a member's name as it was then), since
    the person may since have left; it holds no calendar content.
    """

    class Action(models.TextChoices):
        CREATED = "created", _("Created the organization")
        RENAMED = "renamed", _("Renamed the organization")
        INVITED = "invited", _("Invited someone")
        INVITATION_REVOKED = "invitation_revoked", _("Withdrew an invitation")
        JOINED = "joined", _("Joined")
        ROLE_CHANGED = "role_changed", _("Changed a member's role")
        REMOVED = "removed", _("Removed a member")
        LEFT = "left", _("Left")
        DOMAIN_ADDED = "domain_added", _("Added a domain")
        DOMAIN_VERIFIED = "domain_verified", _("Verified a domain")
        DOMAIN_REMOVED = "domain_removed", _("Removed a domain")
        CAPTURE_CHANGED = "capture_changed", _("Turned domain capture on or off")
        CAPTURED = "captured", _("Joined through the organization's domain")
        SSO_CHANGED = "sso_changed", _("Changed single sign-on")
        SSO_SIGN_IN = "sso_sign_in", _("Signed in with single sign-on")
        SSO_SIGNED_OUT = "sso_signed_out", _("Signed out everyone single sign-on is required for")
        SSO_UNLINKED = "sso_unlinked", _("Unlinked a single sign-on identity")
        SIGNED_IN = "signed_in", _("Signed in")
        POLICY_CHANGED = "policy_changed", _("Changed the policies")
        CONNECTED = "connected", _("Connected a calendar account")
        DISCONNECTED = "disconnected", _("Disconnected a calendar account")
        EXPORTED = "exported", _("Exported data")
        SUBSCRIBED = "subscribed", _("The organization's subscription started")
        SUBSCRIPTION_ENDED = "subscription_ended", _("The organization's subscription ended")
        DUPLICATE_CANCELLED = (
            "duplicate_cancelled",
            _("A second subscription was cancelled and refunded"),
        )

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=24, choices=Action.choices)
    subject = models.CharField(max_length=254, blank=True)
    role = models.CharField(max_length=8, choices=Role.choices, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="orgs_event_org")]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.action}"


class Domain(models.Model):
    """An e-mail domain the organization claims; it counts once its DNS shows ``token``.

    A verified domain defines the organization's accounts (a member's calendar account whose
    address is in it) and, when ``capture`` is on, brings people with a confirmed address in it
    into the organization. A domain is verified for one organization at most.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    # Lower-case, in its ASCII (IDNA) form.
    name = models.CharField(_("Domain"), max_length=253)
    # Published as a TXT record ``multical-verification=<token>``: public by design.
    token = models.CharField(max_length=64)
    capture = models.BooleanField(_("Addresses of this domain join the organization"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="orgs_domain_once_per_organization"
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(verified_at__isnull=False),
                name="orgs_domain_verified_once",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class Policy(models.Model):
    """What the organization allows its members, enforced by the sync engine and the forms.

    ``max_visibility`` uses the values of the rules' visibility (``busy``, ``title``, ``full``);
    empty means no cap. ``allowed_kinds`` lists the account kinds members may connect; empty
    means all. ``version`` grows with every change, so work started under an older policy can
    tell.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="policy"
    )
    max_visibility = models.CharField(max_length=8, blank=True)
    links_may_leave = models.BooleanField(default=True)
    allowed_kinds = models.JSONField(default=list, blank=True)
    personal_accounts_allowed = models.BooleanField(default=True)
    public_pages_allowed = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"policy of {self.organization_id}"


class SsoProvider(models.Model):
    """The organization's OpenID Connect issuer; its client secret is sealed in the vault.

    A multi-tenant issuer (Entra's ``…/organizations/v2.0`` or ``…/common/v2.0``) signs in the
    people of every tenant there is: ``tenants`` lists the tenant IDs whose tokens count (lower
    case), and with none listed it signs nobody in (``multical.lib.oidc``).
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="sso"
    )
    issuer = models.URLField(_("Issuer"), max_length=500)
    client_id = models.CharField(_("Client ID"), max_length=255)
    client_secret = SealedTextField(blank=True)
    tenants = models.JSONField(_("Allowed tenant IDs"), default=list, blank=True)
    enabled = models.BooleanField(_("Members may sign in with it"), default=False)
    # People whose address is in one of the organization's verified domains must use it.
    required = models.BooleanField(
        _("Require single sign-on for the organization's domains"), default=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sso of {self.organization_id}"


class SsoIdentity(models.Model):
    """A person as an issuer knows them: linked by ``(issuer, subject)``, never by address.

    ``issuer`` is the one the token named, which for a multi-tenant issuer is its tenant's.
    ``public_id`` is what URLs carry.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="sso_identities"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="orgs_sso_identity_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.issuer}"


class OrgSubscription(models.Model):
    """An organization's Pro subscription, one seat per member, as last read from Stripe.

    The organization has a Stripe customer of its own (never the payer's personal one, whose
    subscriptions decide the payer's own plan). ``seats_wanted`` is the durable intent: the number
    of members, written in the transaction that changes the membership; ``seats_billed`` is the
    quantity Stripe last confirmed. A row where they differ is pushed to Stripe until they agree.
    Only ids, times, counts and statuses are kept here.
    """

    # The organization's row goes when it is deleted; this one stays until Stripe has been told
    # to stop billing (a subscription left without an organization is cancelled).
    organization = models.OneToOneField(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subscription",
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    stripe_customer_id = models.CharField(max_length=255)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    stripe_item_id = models.CharField(max_length=255, blank=True)
    # One of Stripe's subscription statuses (accounts.models.Subscription.Status), or blank.
    status = models.CharField(max_length=24, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    seats_billed = models.PositiveIntegerField(default=0)
    seats_wanted = models.PositiveIntegerField(default=0)
    # The Checkout session last opened and when Stripe closes it (as on a personal Subscription).
    checkout_session_id = models.CharField(max_length=255, blank=True)
    checkout_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_customer_id"], name="orgs_orgsubscription_unique_customer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.status or 'no subscription'}"

    @property
    def is_live(self) -> bool:
        """Pro for the members on the same terms as a personal subscription (past due included)."""
        return self.status in Subscription.LIVE_STATUSES
