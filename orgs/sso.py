"""Single sign-on: an organization's own OpenID Connect issuer signs its people in.

Who an issuer's sign-in opens:

- an identity seen before, by ``(issuer, sub)`` alone: the account it was linked to (an address
  may change at the issuer; the subject does not);
- otherwise only an address the issuer says it verified (``email_verified``, or Entra's
  ``xms_edov``) *and* whose domain the organization verified in DNS: the account with that
  address, linked now, or a new account once its owner accepted the legal documents. An issuer
  an admin typed in can vouch for the organization's own domains, never for anyone else's
  address, so no organization can take over an account outside its domains.

Whoever signs in this way becomes a member of the organization if they were not, unless they
left it or were removed from it: they still sign in, and only an invitation brings them back. With
``required`` on, people whose address is in one of the organization's verified domains sign in
only through its issuer: every other door (password, Google, Microsoft, the e-mailed link) sends
them there (``accounts.sign_in.door_check``). Sessions they opened before it covered them end too:
when ``required`` is switched on, or a domain is verified while it is on, every account with an
address there gets a new ``session_stamp`` in the same transaction (so a door that let someone in
a moment before the switch committed has handed out a session the stamp ends), and signs in
again through the issuer. That ends their single sign-on sessions as well, which the admin's page
says; it costs nothing per request. The admin switching it on must be signed in through the
issuer if their own address is covered (their session is kept), so nobody locks themselves out
with an issuer that does not work.

An admin may unlink an identity of the organization's, and anyone their own: the next sign-in
through the issuer links the account its verified address names, as the first one did.

The client secret is sealed in the vault; what is stored of an identity is the issuer, the
subject and when it was last used. A multi-tenant issuer (``multical.lib.oidc``) signs people in
only from the tenants the admin listed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Replace
from django.dispatch import receiver
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from accounts.models import User, normalize_email
from accounts.sign_in import Refusal, door_check
from multical.lib import oidc
from multical.lib.vault import context_for, seal, unseal
from orgs.addresses import address_domain
from orgs.domains import display_name, left_or_removed
from orgs.models import Domain, Membership, Organization, OrgEvent, SsoIdentity, SsoProvider
from orgs.services import OrgRefused, record_event, require_admin

# The audit metadata of a sign-in through an organization's issuer.
METHOD = "sso"
# An organization trusts at most this many tenants of a multi-tenant issuer.
MAX_TENANTS = 50


def callback_url() -> str:
    """The one redirect URI every organization registers with its issuer."""
    return settings.SITE_URL + reverse("console:sso_callback")


def provider_for(organization: Organization) -> SsoProvider | None:
    return SsoProvider.objects.filter(organization=organization).first()


def provider_save(
    *,
    membership: Membership,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    enabled: bool,
    required: bool,
    ip_address: str | None,
    tenants: Sequence[str] = (),
    through_sso: bool = False,
) -> SsoProvider:
    """Set the organization's issuer; ``client_secret`` None keeps the one stored.

    Turning it on needs a secret and a verified domain to be of use; requiring it needs it on.
    The caller has checked the issuer answers (``oidc.discover``) and, for a multi-tenant one,
    that ``tenants`` (lower-case tenant IDs) lists one at least. Switching ``required`` on signs
    out everyone it covers (see the module's docstring): ``through_sso`` says the acting admin's
    session was opened through this issuer, which it must have been if their address is covered;
    the caller then keeps that session (``update_session_auth_hash``).
    """
    require_admin(membership)
    organization = membership.organization
    with transaction.atomic():
        # The organization's row, not the provider's (there may be none yet): what a domain's
        # verification waits for too (``domain_verified``), so that between the two nobody
        # covered is left signed in.
        Organization.objects.select_for_update().filter(pk=organization.pk).exists()
        provider = SsoProvider.objects.select_for_update().filter(organization=organization).first()
        if provider is None:
            provider = SsoProvider(organization=organization)
        was_required = provider.enabled and provider.required
        provider.issuer, provider.client_id = issuer, client_id
        provider.tenants = sorted(set(tenants))
        if client_secret is not None:
            provider.client_secret = seal(
                client_secret, context=context_for(provider, "client_secret")
            )
        if enabled and not provider.client_secret:
            raise OrgRefused(_("Enter the client secret your identity provider gave you."))
        if required and not enabled:
            raise OrgRefused(_("Single sign-on must be on before it can be required."))
        if required and not _verified_domains(organization):
            raise OrgRefused(
                _("Verify one of your domains first: single sign-on is required for its addresses.")
            )
        provider.enabled, provider.required = enabled, required
        provider.updated_at = timezone.now()
        provider.save()
        record_event(
            organization,
            OrgEvent.Action.SSO_CHANGED,
            actor=membership.user,
            subject=issuer,
            ip_address=ip_address,
        )
        if required and not was_required:
            domains = list(_verified(organization))
            if not through_sso and covered(domains).filter(pk=membership.user_id).exists():
                raise OrgRefused(
                    _(
                        "Sign in with single sign-on before you require it: requiring it signs "
                        "out everyone with an address of your domains, you too."
                    )
                )
            _sign_out(organization, domains, actor=membership.user, ip_address=ip_address)
    return provider


def domain_verified(domain: Domain, *, actor: User | None, ip_address: str | None) -> None:
    """Called in the transaction that verifies ``domain``: while the organization requires its
    single sign-on, the people of the domain are now covered, and signed out."""
    Organization.objects.select_for_update().filter(pk=domain.organization_id).exists()
    if requires_sso(domain.organization_id):
        _sign_out(domain.organization, [domain], actor=actor, ip_address=ip_address)


def requires_sso(organization_id: str | uuid.UUID) -> bool:
    """Whether the organization requires its single sign-on of the people of its domains."""
    return (
        SsoProvider.objects.filter(organization_id=organization_id, enabled=True, required=True)
        .exclude(client_secret="")
        .exists()
    )


def covered(domains: Iterable[Domain]) -> QuerySet[User]:
    """Everyone whose address is in one of ``domains`` (in either spelling of an
    internationalised name): whom a requirement of single sign-on covers."""
    in_domains = Q(pk__in=[])
    for domain in domains:
        for spelling in {domain.name, display_name(domain)}:
            in_domains |= Q(email__iendswith="@" + spelling)
    return User.objects.filter(in_domains)


def _sign_out(
    organization: Organization,
    domains: list[Domain],
    *,
    actor: User | None,
    ip_address: str | None,
) -> None:
    if not domains:
        return
    people = covered(domains)
    if connection.vendor == "postgresql":
        # A fresh random stamp for each account, drawn by PostgreSQL (gen_random_uuid is a
        # CSPRNG), in one statement whatever the number of people.
        people.update(session_stamp=Replace(Cast(RandomUUID(), CharField()), Value("-"), Value("")))
    else:  # the embedded SQLite of make demo has no such function
        for person in people.only("id"):
            person.session_stamp = get_random_string(32)
            person.save(update_fields=["session_stamp"])
    record_event(
        organization,
        OrgEvent.Action.SSO_SIGNED_OUT,
        actor=actor,
        subject=", ".join(domain.name for domain in domains)[:254],
        ip_address=ip_address,
    )


def client_for(provider: SsoProvider) -> oidc.OIDCClient:
    return oidc.OIDCClient(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=unseal(
            provider.client_secret, context=context_for(provider, "client_secret")
        ),
        redirect_uri=callback_url(),
        tenants=tuple(provider.tenants),
    )


# Identities -------------------------------------------------------------------------------------


def identities_of(organization: Organization) -> QuerySet[SsoIdentity]:
    """The identities the organization's sign-in linked, by address."""
    return (
        SsoIdentity.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__email", "id")
    )


def get_identity(membership: Membership, public_id: object) -> SsoIdentity:
    """An identity of the reader's organization (``membership`` an admin's, from
    ``selectors.get_admin_membership_for_user``); 404 for any other."""
    return get_object_or_404(
        SsoIdentity.objects.select_related("user"),
        organization_id=membership.organization_id,
        public_id=public_id,
    )


def identities_of_user(user: User) -> QuerySet[SsoIdentity]:
    """The identities linked to ``user``'s account, by organization."""
    return (
        SsoIdentity.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name", "id")
    )


def get_own_identity(user: User, public_id: object) -> SsoIdentity:
    """An identity linked to ``user``'s account; 404 for anyone else's."""
    return get_object_or_404(
        SsoIdentity.objects.select_related("organization"), user=user, public_id=public_id
    )


def identity_remove_own(*, user: User, identity: SsoIdentity, ip_address: str | None) -> None:
    """A person unlinks an identity of theirs, as an admin may (``identity_unlink``)."""
    with transaction.atomic():
        removed, _counts = SsoIdentity.objects.filter(pk=identity.pk, user=user).delete()
        if removed:
            record_event(
                identity.organization,
                OrgEvent.Action.SSO_UNLINKED,
                actor=user,
                subject=user.email,
                ip_address=ip_address,
            )


def identity_unlink(
    *, membership: Membership, identity: SsoIdentity, ip_address: str | None
) -> None:
    """Forget the link between an issuer's subject and an account: the account stays, signed in
    where it is, and the next sign-in through the issuer links the account its address names."""
    require_admin(membership)
    with transaction.atomic():
        removed, _counts = SsoIdentity.objects.filter(
            pk=identity.pk, organization_id=membership.organization_id
        ).delete()
        if removed:
            record_event(
                membership.organization,
                OrgEvent.Action.SSO_UNLINKED,
                actor=membership.user,
                subject=identity.user.email,
                ip_address=ip_address,
            )


def enabled_provider(organization_id: str | uuid.UUID) -> SsoProvider | None:
    """The organization's issuer, when members may sign in with it."""
    return (
        SsoProvider.objects.select_related("organization")
        .filter(organization_id=organization_id, enabled=True)
        .exclude(client_secret="")
        .first()
    )


def provider_for_address(address: str) -> SsoProvider | None:
    """The issuer that signs in ``address``: its domain's organization's, when it is on."""
    domain = address_domain(address)
    if not domain:
        return None
    return (
        SsoProvider.objects.select_related("organization")
        .filter(
            enabled=True,
            organization__domains__name=domain,
            organization__domains__verified_at__isnull=False,
        )
        .exclude(client_secret="")
        .first()
    )


@dataclass(frozen=True)
class NewPerson:
    """A verified address of the organization's domain with no account yet: held until its owner
    accepts the legal documents (``complete_sign_up``)."""

    issuer: str
    sub: str
    email: str


def resolve(provider: SsoProvider, claims: oidc.IdentityClaims) -> User | NewPerson:
    """The account the issuer's sign-in opens, linked and made a member; ``NewPerson`` when it
    has to be created first. ``OrgRefused`` says why not (see the module's docstring)."""
    organization = provider.organization
    identity = (
        SsoIdentity.objects.select_related("user")
        .filter(issuer=claims.issuer, subject=claims.sub)
        .first()
    )
    if identity is not None:
        if identity.organization_id != organization.id:
            raise OrgRefused(_("This identity belongs to another organization's sign-in."))
        user = identity.user
        _require_active(user)
        identity.last_used_at = timezone.now()
        identity.save(update_fields=["last_used_at"])
    else:
        email = _vouched_address(organization, claims)
        user = User.objects.filter(email=email).first()  # type: ignore[assignment]
        if user is None:
            return NewPerson(issuer=claims.issuer, sub=claims.sub, email=email)
        _require_active(user)
        _link(organization, user, claims.issuer, claims.sub)
        if not user.email_verified:
            # As a provider sign-in does: the address is proved, a password typed by whoever
            # registered it unverified is not.
            user.email_verified_at = timezone.now()
            user.set_unusable_password()
            user.save(update_fields=["email_verified_at", "password"])
    _join(organization, user)
    return user


def complete_sign_up(provider: SsoProvider, person: NewPerson, user: User) -> None:
    """Link the account just created for ``person`` and make it a member."""
    _link(provider.organization, user, person.issuer, person.sub)
    _join(provider.organization, user)


def record_sign_in(provider: SsoProvider, user: User, *, ip_address: str | None) -> None:
    record_event(
        provider.organization,
        OrgEvent.Action.SSO_SIGN_IN,
        actor=user,
        subject=user.email,
        ip_address=ip_address,
    )


def required_provider_for(user: User) -> SsoProvider | None:
    """The issuer ``user`` must sign in with, if their address's organization requires it."""
    provider = provider_for_address(user.email)
    return provider if provider is not None and provider.required else None


@receiver(door_check)
def _require_sso(sender: Any, *, user: User, method: str, **kwargs: Any) -> Refusal | None:
    if method == METHOD:
        return None
    provider = required_provider_for(user)
    if provider is None:
        return None
    return Refusal(
        message=_("%(organization)s asks you to sign in with your organization's account.")
        % {"organization": provider.organization.name},
        url=reverse("console:sso_sign_in") + "?" + urlencode({"email": user.email}),
    )


def _vouched_address(organization: Organization, claims: oidc.IdentityClaims) -> str:
    if not claims.email or not claims.email_verified:
        raise OrgRefused(_("Your organization's sign-in did not give a verified e-mail address."))
    email = normalize_email(claims.email)
    if address_domain(email) not in _verified_domains(organization):
        raise OrgRefused(
            _(
                "Your organization's sign-in gave an address outside the organization's "
                "verified domains."
            )
        )
    return email


def _verified(organization: Organization) -> QuerySet[Domain]:
    return Domain.objects.filter(organization=organization, verified_at__isnull=False)


def _verified_domains(organization: Organization) -> set[str]:
    return set(_verified(organization).values_list("name", flat=True))


def _require_active(user: User) -> None:
    if not user.is_active or user.deletion_requested_at is not None:
        raise OrgRefused(_("This account is switched off."))


def _link(organization: Organization, user: User, issuer: str, sub: str) -> None:
    try:
        with transaction.atomic():
            SsoIdentity.objects.create(
                organization=organization,
                user=user,
                issuer=issuer,
                subject=sub,
                last_used_at=timezone.now(),
            )
    except IntegrityError:
        # Linked by a sign-in a moment ago: to this account, or the refusal stands.
        if not SsoIdentity.objects.filter(issuer=issuer, subject=sub, user=user).exists():
            raise OrgRefused(_("This identity is already linked to another account.")) from None


def _join(organization: Organization, user: User) -> None:
    # Someone who left or was removed still signs in to their own account this way, but only an
    # invitation brings them back into the organization (as capture does it).
    if organization.memberships.filter(user=user).exists() or left_or_removed(organization, user):
        return
    try:
        with transaction.atomic():
            Membership.objects.create(organization=organization, user=user)
    except IntegrityError:
        return  # joined by a sign-in at the same moment
    record_event(organization, OrgEvent.Action.JOINED, actor=user, subject=user.email)
