"""Organization policies: what an organization allows, read where it is enforced, and changed.

**The organization's accounts.** A calendar account belongs to an organization when its address
has a domain that is one of the organization's *verified* domains (``Domain.verified_at`` set). An
account's address is ``Connection.username``: the e-mail address a Google or Microsoft grant named
(``calendars.services.connection_connect_oauth``), the Apple ID of an iCloud account, the user name
of a CalDAV account (an address only when the server uses addresses as user names). An iCal link
has no address (its ``username`` is a fingerprint): it never belongs to an organization. The
domain is the part after the last ``@``, lower-cased and in its ASCII (IDNA) form, as domains are
stored. A domain is verified for one organization at most, so an account has at most one
organization, and that organization's policy applies to it **whoever holds it** — a member, a
former member, or someone who never joined.

**What each policy does**

- ``max_visibility`` and ``links_may_leave`` cap every block copied *out of* a calendar of the
  organization's accounts, into any target, whatever the rule asks (``capped_visibility``; the
  sync engine applies it where blocks are rendered). Full details become Title only or Busy only;
  without ``links_may_leave`` no location and no video link leave.
- ``allowed_kinds`` (empty: all) limits the kinds of account the organization's *members* may
  connect, and the kinds any of the organization's accounts may be connected as, by anyone.
- ``personal_accounts_allowed`` off: a member may connect a Google or Microsoft account only when
  its address is in a verified domain of one of the organizations they are a member of (their
  work accounts), not one outside all of them (a personal account). Other kinds are governed by
  ``allowed_kinds`` alone.
- ``public_pages_allowed`` off: members cannot publish (open) booking pages; the pages they have
  open are closed when the policy changes (kept, as drafts), and they may keep editing them.

Each applies to new connections and pages; connections made before a change stay (their blocks
are capped all the same). A person in several organizations is held to each one's policy.

A domain verified or removed changes which accounts are the organization's: the policy is applied
again to that domain's accounts then (``reapply_when_the_accounts_change``).

The Calendars page says of each account what the policies do to it (``account_notes``, one query
for all of a person's accounts): the organization whose account it is and what may leave it, and,
for an account that could not be connected now, that it keeps working as it is but cannot be
connected again (nothing refuses a connection made before a change; connecting, new credentials
and OAuth sign-ins again all ask ``connect_refusal``).

Reads take one query for any number of addresses (``policies_for_addresses``): the sync engine
reads the policy of a source once per sync, never per event, and caches nothing across syncs, so a
change applies to the next sync. A change (``policy_update``) bumps ``version``, writes the audit
log and sends ``policy_changed`` inside its transaction, so the layers above record the work it
calls for (the sync engine's durable full reads) with the change, or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from integrations.kinds import AccountKind
from orgs.addresses import address_domain
from orgs.models import Domain, Membership, Organization, OrgEvent, Policy
from orgs.services import OrgRefused, record_event, require_admin

# A policy changed (or the accounts it covers did): whatever renders or offers what it governs is
# to be done again. Sent inside the changing transaction. Arguments: organization_id (str),
# domains (names whose accounts to look at again besides the verified domains').
policy_changed = Signal()

# The visibility values of the rules (``syncrules.choices.Visibility``), most private first.
VISIBILITY_ORDER = ("busy", "title", "full")
# The kinds whose accounts count as personal when outside the organizations' domains.
PERSONAL_KINDS = frozenset({AccountKind.GOOGLE, AccountKind.MICROSOFT})


class PolicyRefused(OrgRefused):
    """What was asked is against an organization's policy; ``message`` says which and why."""


# The advisory locks that order opening pages against policy changes (``public_pages_guard``).
_POLICY_LOCK_SPACE = "orgs.policy:"


@dataclass(frozen=True, slots=True)
class OrgPolicy:
    """An organization's policy as read (the defaults when it has never set one)."""

    organization_id: uuid.UUID
    organization_name: str
    max_visibility: str = ""
    links_may_leave: bool = True
    allowed_kinds: frozenset[str] = frozenset()
    personal_accounts_allowed: bool = True
    public_pages_allowed: bool = True
    version: int = 0
    # The organization's verified domains (filled where the reader needs them).
    domains: frozenset[str] = field(default=frozenset())

    @property
    def caps_blocks(self) -> bool:
        return self.max_visibility in ("busy", "title") or not self.links_may_leave

    def allows_kind(self, kind: str) -> bool:
        return not self.allowed_kinds or kind in self.allowed_kinds


def _policy_of(organization: Organization, domains: Iterable[str] = ()) -> OrgPolicy:
    try:
        policy: Policy | None = organization.policy
    except Policy.DoesNotExist:
        policy = None
    base = OrgPolicy(
        organization_id=organization.id,
        organization_name=organization.name,
        domains=frozenset(domains),
    )
    if policy is None:
        return base
    return OrgPolicy(
        organization_id=organization.id,
        organization_name=organization.name,
        max_visibility=policy.max_visibility if policy.max_visibility in VISIBILITY_ORDER else "",
        links_may_leave=policy.links_may_leave,
        allowed_kinds=frozenset(policy.allowed_kinds or ()),
        personal_accounts_allowed=policy.personal_accounts_allowed,
        public_pages_allowed=policy.public_pages_allowed,
        version=policy.version,
        domains=base.domains,
    )


def policies_for_addresses(addresses: Iterable[str]) -> dict[str, OrgPolicy]:
    """The policy that applies to each address that is one of an organization's accounts (the
    others are left out), read in one query."""
    by_domain: dict[str, list[str]] = {}
    for address in addresses:
        domain = address_domain(address)
        if domain:
            by_domain.setdefault(domain, []).append(address)
    if not by_domain:
        return {}
    found: dict[str, OrgPolicy] = {}
    verified = Domain.objects.filter(
        name__in=list(by_domain), verified_at__isnull=False
    ).select_related("organization__policy")
    for row in verified:
        policy = _policy_of(row.organization, [row.name])
        for address in by_domain[row.name]:
            found[address] = policy
    return found


def policy_for_address(address: str) -> OrgPolicy | None:
    """The policy of the organization whose account ``address`` is, or None."""
    return policies_for_addresses([address]).get(address)


def capped_visibility(visibility: str, policy: OrgPolicy | None) -> str:
    """``visibility`` (a rule's) lowered to what ``policy`` allows out of its accounts."""
    if policy is None or not policy.max_visibility or visibility not in VISIBILITY_ORDER:
        return visibility
    allowed = VISIBILITY_ORDER.index(policy.max_visibility)
    return VISIBILITY_ORDER[min(VISIBILITY_ORDER.index(visibility), allowed)]


def policies_for_member(user: User) -> list[OrgPolicy]:
    """The policies of the organizations ``user`` is a member of, with their verified domains,
    by organization name (two queries)."""
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("organization__policy")
        .order_by("organization__name", "organization_id")
    )
    organizations = [membership.organization for membership in memberships]
    domains: dict[uuid.UUID, list[str]] = {}
    if organizations:
        verified = Domain.objects.filter(
            organization__in=organizations, verified_at__isnull=False
        ).values_list("organization_id", "name")
        for organization_id, name in verified:
            domains.setdefault(organization_id, []).append(name)
    return [
        _policy_of(organization, domains.get(organization.id, ())) for organization in organizations
    ]


def connect_refusal(*, user: User, kind: str, address: str | None = None) -> str | None:
    """Why ``user`` may not connect an account of ``kind`` with ``address`` (None when not yet
    known: only what the kind alone decides is checked), or None when they may."""
    owner = policy_for_address(address) if address else None
    return _refusal(kind=kind, address=address, member_of=policies_for_member(user), owner=owner)


def _refusal(
    *, kind: str, address: str | None, member_of: list[OrgPolicy], owner: OrgPolicy | None
) -> str | None:
    """``connect_refusal`` from the policies already read: those of the person's organizations
    (with their verified domains) and that of the organization whose account it is."""
    kind_label = _(AccountKind(kind).label) if kind in {k.value for k in AccountKind} else kind
    for policy in [*member_of, *([owner] if owner is not None else [])]:
        if not policy.allows_kind(kind):
            return _("%(organization)s does not allow %(kind)s accounts to be connected.") % {
                "organization": policy.organization_name,
                "kind": kind_label,
            }
    if address is None or kind not in PERSONAL_KINDS:
        return None
    work_domains = frozenset(domain for policy in member_of for domain in policy.domains)
    if address_domain(address) in work_domains:
        return None
    for policy in member_of:
        if not policy.personal_accounts_allowed:
            return _(
                "%(organization)s allows only its own %(kind)s accounts (addresses in its "
                "verified domains), and %(address)s is not one of them."
            ) % {"organization": policy.organization_name, "kind": kind_label, "address": address}
    return None


K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class AccountNote:
    """What organizations' policies do to one of a person's calendar accounts, in their words."""

    # The organization whose account it is (its address in a verified domain), if any.
    policy: OrgPolicy | None
    # That organization's policy of blocks out of the account, in a sentence or two ("" if none).
    shows: str
    # Whether the person is a member of that organization, so may read its policies page.
    readable: bool
    # Why connecting the account again would be refused now, and what happens to it, if it would.
    refusal: str
    outcome: str


def account_notes(
    *, user: User, accounts: Mapping[K, tuple[str, str, bool]]
) -> dict[K, AccountNote]:
    """For each of ``user``'s accounts — (kind, address, whether it works now) by any key — what
    the policies do to it; accounts they leave alone are left out. One query for all: the
    organizations ``user`` is a member of and those whose accounts these are, with their policies
    and verified domains."""
    domains = {address_domain(address) for _kind, address, _working in accounts.values()}
    domains.discard("")
    rows = (
        Organization.objects.filter(
            Q(id__in=Membership.objects.filter(user=user).values("organization_id"))
            | Q(
                id__in=Domain.objects.filter(
                    name__in=sorted(domains), verified_at__isnull=False
                ).values("organization_id")
            )
        )
        .select_related("policy")
        .annotate(
            is_member=Exists(Membership.objects.filter(user=user, organization=OuterRef("pk"))),
            **_verified_names(),
        )
        .order_by("name", "id")
    )
    member_of: list[OrgPolicy] = []
    owners: dict[str, tuple[OrgPolicy | None, bool]] = {}
    for row in _with_verified_names(list(rows)):
        read = _policy_of(row, row.verified)
        if row.is_member:
            member_of.append(read)
        for name in row.verified:
            owners[name] = (read, row.is_member)
    notes: dict[K, AccountNote] = {}
    for key, (kind, address, working) in accounts.items():
        policy, readable = owners.get(address_domain(address), (None, False))
        refusal = _refusal(kind=kind, address=address, member_of=member_of, owner=policy)
        if policy is None and refusal is None:
            continue
        notes[key] = AccountNote(
            policy=policy,
            shows=_what_leaves(policy) if policy is not None else "",
            readable=readable,
            refusal=refusal or "",
            outcome=_refused_outcome(working) if refusal else "",
        )
    return notes


def _verified_names() -> dict[str, ArraySubquery]:
    """Each organization's verified domain names, read with it (PostgreSQL's arrays)."""
    if connection.vendor != "postgresql":
        return {}
    names = Domain.objects.filter(organization=OuterRef("pk"), verified_at__isnull=False)
    return {"verified": ArraySubquery(names.values("name"))}


def _with_verified_names(rows: list[Any]) -> list[Any]:
    """``rows`` with their ``verified`` names: read already on PostgreSQL; elsewhere (the
    embedded SQLite of make demo) by one more query."""
    if rows and not hasattr(rows[0], "verified"):
        names: dict[object, list[str]] = {row.id: [] for row in rows}
        for organization_id, name in Domain.objects.filter(
            organization__in=rows, verified_at__isnull=False
        ).values_list("organization_id", "name"):
            names[organization_id].append(name)
        for row in rows:
            row.verified = names[row.id]
    return rows


def _what_leaves(policy: OrgPolicy) -> str:
    words = {"organization": policy.organization_name}
    if policy.max_visibility == "busy":
        shows = _("%(organization)s's policy: blocks copied out of this account show Busy only.")
    elif policy.max_visibility == "title":
        shows = _(
            "%(organization)s's policy: blocks copied out of this account show their titles at "
            "most."
        )
    else:
        shows = _(
            "%(organization)s's policy: blocks copied out of this account show what each sync "
            "rule says."
        )
    if policy.links_may_leave:
        links = _("Locations and video-call links leave it where a sync rule copies them.")
    else:
        links = _("Locations and video-call links never leave it.")
    return f"{shows % words} {links}"


def _refused_outcome(working: bool) -> str:
    """What happens to an account connected before the policy refused it: nothing, until it has
    to be connected again (new credentials and OAuth sign-ins are refused like connecting)."""
    if working:
        return _(
            "This account keeps working as it is, but once it needs reconnecting or is "
            "disconnected, it cannot be connected again."
        )
    return _("So it cannot be connected again; you may remove it.")


def require_may_connect(*, user: User, kind: str, address: str | None = None) -> None:
    """``connect_refusal``, raised as ``PolicyRefused``."""
    refusal = connect_refusal(user=user, kind=kind, address=address)
    if refusal is not None:
        raise PolicyRefused(refusal)


def public_pages_refusal(user: User) -> str | None:
    """Why ``user`` may not open booking pages to the public, or None when they may."""
    for policy in policies_for_member(user):
        if not policy.public_pages_allowed:
            return _("%(organization)s does not allow its members to publish booking pages.") % {
                "organization": policy.organization_name
            }
    return None


def public_pages_guard(user: User) -> str | None:
    """``public_pages_refusal`` for a page about to be opened, in the caller's transaction: the
    policies of ``user``'s organizations are held (shared) until it commits, so a policy change
    that closes members' pages waits for the page being opened, and sees it, rather than miss it.
    Call it before any row lock of the transaction."""
    ids = Membership.objects.filter(user=user).values_list("organization_id", flat=True)
    _policy_locks(ids, shared=True)
    return public_pages_refusal(user)


def _policy_locks(organization_ids: Iterable[uuid.UUID | str], *, shared: bool) -> None:
    """Transaction-level advisory locks on organizations' policies, in one order everywhere."""
    statement = (
        "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))"
        if shared
        else "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
    )
    with connection.cursor() as cursor:
        for organization_id in sorted(str(value) for value in organization_ids):
            cursor.execute(statement, [_POLICY_LOCK_SPACE + organization_id])


def members_refused_public_pages(organization_id: uuid.UUID | str) -> list[uuid.UUID]:
    """The ids of the people ``organization_id``'s policy keeps from publishing pages (none
    when it allows them)."""
    allows = Policy.objects.filter(organization_id=organization_id, public_pages_allowed=False)
    if not allows.exists():
        return []
    return list(
        Membership.objects.filter(organization_id=organization_id).values_list("user_id", flat=True)
    )


def verified_domains(organization_id: uuid.UUID | str) -> list[str]:
    """The organization's verified domains: its accounts' addresses end in ``@`` and one of them."""
    return list(
        Domain.objects.filter(
            organization_id=organization_id, verified_at__isnull=False
        ).values_list("name", flat=True)
    )


def policy_read(organization: Organization) -> OrgPolicy:
    """The organization's policy, the defaults when it has none, with its verified domains."""
    return _policy_of(
        Organization.objects.select_related("policy").get(id=organization.id),
        verified_domains(organization.id),
    )


@dataclass(frozen=True, kw_only=True)
class PolicySettings:
    """What an admin sets (``Policy``'s fields of the same names)."""

    max_visibility: str
    links_may_leave: bool
    allowed_kinds: tuple[str, ...]
    personal_accounts_allowed: bool
    public_pages_allowed: bool


def policy_update(
    *, membership: Membership, settings: PolicySettings, ip_address: str | None
) -> Policy:
    """Set the organization's policy (owners and admins only). A change bumps its version, is
    written to the organization's log and applied at once (``policy_changed``); saving the same
    settings again changes nothing."""
    require_admin(membership)
    if settings.max_visibility not in ("", *VISIBILITY_ORDER):
        raise ValueError(f"Not a visibility: {settings.max_visibility!r}")
    unknown = set(settings.allowed_kinds) - {kind.value for kind in AccountKind}
    if unknown:
        raise ValueError(f"Not account kinds: {sorted(unknown)!r}")
    organization = membership.organization
    with transaction.atomic():
        # Waits for pages being opened under the policy as it was (``public_pages_guard``).
        _policy_locks([organization.id], shared=False)
        Policy.objects.get_or_create(organization=organization)
        policy = Policy.objects.select_for_update().get(organization=organization)
        wanted = {
            "max_visibility": settings.max_visibility,
            "links_may_leave": settings.links_may_leave,
            "allowed_kinds": sorted(set(settings.allowed_kinds)),
            "personal_accounts_allowed": settings.personal_accounts_allowed,
            "public_pages_allowed": settings.public_pages_allowed,
        }
        if all(getattr(policy, name) == value for name, value in wanted.items()):
            return policy
        for name, value in wanted.items():
            setattr(policy, name, value)
        policy.version += 1
        policy.updated_at = timezone.now()
        policy.save(update_fields=[*wanted, "version", "updated_at"])
        record_event(
            organization,
            OrgEvent.Action.POLICY_CHANGED,
            actor=membership.user,
            ip_address=ip_address,
        )
        policy_reapply(organization_id=organization.id)
    return policy


def policy_reapply(*, organization_id: uuid.UUID | str, domains: Iterable[str] = ()) -> None:
    """Apply the organization's policy again to everything it governs, in the caller's
    transaction: after a change, and whenever its accounts change. ``domains``: domains whose
    accounts are to be looked at again besides the verified ones (one just removed, whose
    accounts the policy no longer covers)."""
    policy_changed.send(sender=Policy, organization_id=str(organization_id), domains=tuple(domains))


@receiver(post_save, sender=OrgEvent)
def reapply_when_the_accounts_change(
    sender: object, *, instance: OrgEvent, created: bool, **_: object
) -> None:
    """A domain verified or removed (as the organization's log records it, in the same
    transaction) changes which accounts are the organization's: a policy that caps blocks is
    applied again to those of that domain."""
    changes_accounts = (OrgEvent.Action.DOMAIN_VERIFIED, OrgEvent.Action.DOMAIN_REMOVED)
    if not created or instance.action not in changes_accounts:
        return
    if _policy_of(
        Organization.objects.select_related("policy").get(id=instance.organization_id)
    ).caps_blocks:
        policy_reapply(organization_id=instance.organization_id, domains=[instance.subject])
