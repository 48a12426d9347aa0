"""E-mail domains an organization claims, proved in DNS, and the people they bring in.

- A name is kept lower-case in its ASCII form (IDNA 2008 with the UTS 46 mapping), so
  ``Bücher.de`` and ``xn--bcher-kva.de`` are one domain. Public mail providers (gmail.com,
  outlook.com…) are refused: nobody owns their addresses as an organization.
- Proof: a TXT record ``multical-verification=<token>`` at the domain's own name, read by the
  resolver the setting ``ORG_DNS_RESOLVER`` names (``orgs.dns``). A record split into several
  strings counts as their concatenation; other TXT records beside it do not matter.
- A domain is verified for one organization at most: the partial unique index
  ``orgs_domain_verified_once`` decides between two organizations proving one domain at once,
  and the later one is told another organization has it.
- A check asks DNS at most once per ``CHECK_INTERVAL`` per domain (the views also limit each
  account); the DNS answer is awaited outside any transaction.
- Capture: while a verified domain has ``capture`` on, a person whose confirmed address is in it
  becomes a member, at the moment the address is confirmed (the sign-up link, an e-mail change's
  link, a provider's sign-in: ``accounts.signals.email_confirmed``) and, for people whose address
  was confirmed before, at once when the domain becomes verified or capture is turned on. An
  unconfirmed address never joins; a member keeps their role; someone who left the organization
  or was removed from it is not brought back by capture (an invitation still can). Only the
  domain itself counts, not its subdomains. Removing a domain ends capture; members stay.
"""

from __future__ import annotations

import enum
import logging
import uuid
from datetime import datetime, timedelta

import idna
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.dispatch import receiver
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.signals import email_confirmed
from orgs import dns
from orgs.addresses import address_domain
from orgs.models import Domain, Membership, Organization, OrgEvent, Role
from orgs.services import OrgRefused, record_event, require_admin

logger = logging.getLogger(__name__)

RECORD_PREFIX = "multical-verification="
# 40 characters of 62: some 238 random bits, in a value any DNS host accepts.
TOKEN_LENGTH = 40
# The least time between two DNS checks of one domain.
CHECK_INTERVAL = timedelta(seconds=20)
# The beat reads a domain still waiting for its record again every RECHECK_INTERVAL, for
# RECHECK_FOR after it was added (then only Check now does), at most RECHECKS_PER_RUN a run.
RECHECK_INTERVAL = timedelta(minutes=10)
RECHECK_FOR = timedelta(days=7)
RECHECKS_PER_RUN = 200
MAX_DOMAINS = 50

# Addresses anyone can get: no organization proves them its own.
PUBLIC_MAIL_PROVIDERS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "outlook.de", "outlook.fr", "hotmail.com",
        "hotmail.co.uk", "hotmail.de", "hotmail.fr", "hotmail.it", "live.com", "live.co.uk",
        "live.de", "live.fr", "msn.com", "passport.com", "icloud.com", "me.com", "mac.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.de", "yahoo.fr", "yahoo.co.jp", "ymail.com",
        "rocketmail.com", "aol.com", "aim.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch",
        "gmx.com", "web.de", "t-online.de", "freenet.de", "posteo.de", "mailbox.org",
        "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tutanota.de",
        "tuta.io", "tuta.com", "zoho.com", "zohomail.com", "mail.com", "email.com", "fastmail.com",
        "fastmail.fm", "hey.com", "yandex.ru", "yandex.com", "mail.ru", "inbox.ru", "bk.ru",
        "list.ru", "qq.com", "163.com", "126.com", "sina.com", "naver.com", "daum.net",
        "hanmail.net", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "libero.it",
        "virgilio.it", "btinternet.com", "sky.com", "comcast.net", "verizon.net", "att.net",
        "sbcglobal.net", "cox.net", "seznam.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl",
        "rediffmail.com", "hushmail.com", "duck.com", "skiff.com", "startmail.com",
    }
)  # fmt: skip


class CheckOutcome(enum.Enum):
    VERIFIED = "verified"
    # A record of ours is there, with another token (an earlier domain's, or mistyped).
    MISMATCH = "mismatch"
    MISSING = "missing"


# Reads ------------------------------------------------------------------------------------------


def organization_for_address(address: str) -> Organization | None:
    """The organization that verified the domain of ``address``, or None (also for a malformed
    address). Whether the address itself was confirmed is the caller's question."""
    name = address_domain(address)
    if not name:
        return None
    domain = (
        Domain.objects.select_related("organization")
        .filter(name=name, verified_at__isnull=False)
        .first()
    )
    return domain.organization if domain is not None else None


def domains_of(membership: Membership) -> QuerySet[Domain]:
    return Domain.objects.filter(organization_id=membership.organization_id).order_by("name")


def get_domain(membership: Membership, domain_id: object) -> Domain:
    """A domain of the reader's organization; Http404 for any other."""
    return get_object_or_404(
        Domain.objects.select_related("organization"),
        id=domain_id,
        organization_id=membership.organization_id,
    )


def record_value(domain: Domain) -> str:
    """The TXT record's value to publish at ``domain.name``."""
    return RECORD_PREFIX + domain.token


def display_name(domain: Domain) -> str:
    """The name as people write it (``bücher.de`` for ``xn--bcher-kva.de``)."""
    try:
        return idna.decode(domain.name)
    except idna.IDNAError:
        return domain.name


# Names ------------------------------------------------------------------------------------------


def normalize_domain(raw: str) -> str:
    """``raw`` as a domain name is kept, or ``OrgRefused`` saying what is wrong with it."""
    text = raw.strip().removeprefix("@").rstrip(".")
    if not text:
        raise OrgRefused(_("Type a domain, such as example.com."))
    if "@" in text or "/" in text or ":" in text:
        raise OrgRefused(
            _("Type the domain alone, such as example.com: no address, web link or port.")
        )
    try:
        name = idna.encode(text, uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise OrgRefused(
            _("%(name)s is not a domain name: use letters, digits, hyphens and dots.")
            % {"name": text}
        ) from None
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2:
        raise OrgRefused(_("Type the whole domain, such as example.com."))
    if labels[-1].isdigit():
        raise OrgRefused(_("Type a domain name, not an IP address."))
    if name in PUBLIC_MAIL_PROVIDERS:
        raise OrgRefused(
            _(
                "%(name)s is a public e-mail service: anyone can have an address there, so it "
                "cannot be an organization's domain."
            )
            % {"name": name}
        )
    return name


# Writes -----------------------------------------------------------------------------------------


def domain_add(*, membership: Membership, name: str, ip_address: str | None) -> Domain:
    """Claim ``name`` for the organization, waiting for its TXT record. Refused for a malformed
    name, a public mail provider, one the organization has, or one another organization verified."""
    require_admin(membership)
    name = normalize_domain(name)
    organization = membership.organization
    if organization.domains.filter(name=name).exists():
        raise OrgRefused(
            _("%(name)s is already one of this organization's domains.") % {"name": name}
        )
    if Domain.objects.filter(name=name, verified_at__isnull=False).exists():
        raise OrgRefused(_taken(name))
    if organization.domains.count() >= MAX_DOMAINS:
        raise OrgRefused(
            _("An organization can have %(count)s domains at most.") % {"count": MAX_DOMAINS}
        )
    try:
        with transaction.atomic():
            domain = Domain.objects.create(
                organization=organization, name=name, token=get_random_string(TOKEN_LENGTH)
            )
            record_event(
                organization,
                OrgEvent.Action.DOMAIN_ADDED,
                actor=membership.user,
                subject=name,
                ip_address=ip_address,
            )
    except IntegrityError:  # added by another request a moment ago
        raise OrgRefused(
            _("%(name)s is already one of this organization's domains.") % {"name": name}
        ) from None
    return domain


def domain_check(*, membership: Membership, domain: Domain, ip_address: str | None) -> CheckOutcome:
    """Read the domain's TXT records and verify it when its record is there.

    ``OrgRefused`` when the domain was checked less than ``CHECK_INTERVAL`` ago, when DNS could
    not be read, or when another organization verified the domain first. A verified domain is
    not read again.
    """
    require_admin(membership)
    return _check(domain, actor=membership.user, ip_address=ip_address)


def domains_waiting(*, now: datetime) -> list[uuid.UUID]:
    """Domains still waiting for their record that the periodic check reads again: added less
    than ``RECHECK_FOR`` ago and not read for ``RECHECK_INTERVAL``, the longest waiting first."""
    return list(
        Domain.objects.filter(verified_at__isnull=True, created_at__gt=now - RECHECK_FOR)
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lte=now - RECHECK_INTERVAL))
        .order_by(F("checked_at").asc(nulls_first=True), "id")
        .values_list("id", flat=True)[:RECHECKS_PER_RUN]
    )


def domain_recheck(domain_id: uuid.UUID) -> CheckOutcome | None:
    """The periodic check of one waiting domain, as **Check now** does it with nobody acting;
    None when it was not read (gone, read a moment ago, DNS down, verified elsewhere)."""
    domain = Domain.objects.select_related("organization").filter(id=domain_id).first()
    if domain is None:
        return None
    try:
        return _check(domain, actor=None, ip_address=None)
    except OrgRefused:
        return None


def _check(domain: Domain, *, actor: User | None, ip_address: str | None) -> CheckOutcome:
    if domain.is_verified:
        return CheckOutcome.VERIFIED
    now = timezone.now()
    claimed = (
        Domain.objects.filter(id=domain.id, verified_at__isnull=True)
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lte=now - CHECK_INTERVAL))
        .update(checked_at=now)
    )
    if not claimed:
        _refresh(domain)
        if domain.is_verified:
            return CheckOutcome.VERIFIED
        raise OrgRefused(
            _("%(name)s was checked a moment ago. Try again in %(seconds)s seconds.")
            % {"name": domain.name, "seconds": int(CHECK_INTERVAL.total_seconds())}
        )
    domain.checked_at = now
    try:
        records = dns.txt_records(domain.name)
    except dns.DnsUnavailable as error:
        # For the operator: a resolver that never answers (dnspython missing, no name servers).
        logger.warning("DNS lookup failed for domain %s: %s", domain.id, error)
        raise OrgRefused(
            _("DNS could not be read for %(name)s just now. Try again in a minute.")
            % {"name": domain.name}
        ) from None
    values = [_value(record) for record in records]
    if record_value(domain) in values:
        _verify(domain, actor=actor, now=now, ip_address=ip_address)
        return CheckOutcome.VERIFIED
    if any(value.startswith(RECORD_PREFIX) for value in values):
        return CheckOutcome.MISMATCH
    return CheckOutcome.MISSING


def _refresh(domain: Domain) -> None:
    try:
        domain.refresh_from_db()
    except Domain.DoesNotExist:
        raise OrgRefused(_("%(name)s was removed meanwhile.") % {"name": domain.name}) from None


def _value(record: dns.TxtRecord) -> str:
    """A record's text: its strings joined, without the quotes a DNS host's form may have kept."""
    return b"".join(record).decode("utf-8", errors="replace").strip().strip('"').strip()


def _taken(name: str) -> str:
    return _(
        "%(name)s is already verified by another organization. It must remove the domain "
        "before this organization can verify it."
    ) % {"name": name}


def _verify(domain: Domain, *, actor: User | None, now: datetime, ip_address: str | None) -> None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                verified = Domain.objects.filter(id=domain.id, verified_at__isnull=True).update(
                    verified_at=now
                )
        except IntegrityError:  # orgs_domain_verified_once: another organization was first
            raise OrgRefused(_taken(domain.name)) from None
        if not verified:
            _refresh(domain)
            return
        domain.verified_at = now
        record_event(
            domain.organization,
            OrgEvent.Action.DOMAIN_VERIFIED,
            actor=actor,
            subject=domain.name,
            ip_address=ip_address,
        )
        if domain.capture:
            _capture_everyone(domain)
        # Imported here: orgs.sso builds on this module.
        from orgs import sso

        sso.domain_verified(domain, actor=actor, ip_address=ip_address)


def domain_set_capture(
    *, membership: Membership, domain: Domain, capture: bool, ip_address: str | None
) -> None:
    """Turn capture on or off; turned on for a verified domain, it brings in at once the people
    whose address there is confirmed already."""
    require_admin(membership)
    with transaction.atomic():
        changed = (
            Domain.objects.filter(id=domain.id).exclude(capture=capture).update(capture=capture)
        )
        domain.capture = capture
        if changed:
            record_event(
                domain.organization,
                OrgEvent.Action.CAPTURE_CHANGED,
                actor=membership.user,
                subject=f"{domain.name}: {'on' if capture else 'off'}",
                ip_address=ip_address,
            )
        if changed and capture and domain.is_verified:
            _capture_everyone(domain)


def domain_remove(*, membership: Membership, domain: Domain, ip_address: str | None) -> None:
    """Give the domain up: no one joins through it any more; members who did stay."""
    require_admin(membership)
    with transaction.atomic():
        removed, _counts = Domain.objects.filter(id=domain.id).delete()
        if removed:
            record_event(
                domain.organization,
                OrgEvent.Action.DOMAIN_REMOVED,
                actor=membership.user,
                subject=domain.name,
                ip_address=ip_address,
            )


# Capture ----------------------------------------------------------------------------------------


@receiver(email_confirmed, dispatch_uid="orgs.domains.capture")
def _on_email_confirmed(sender: object, *, user: User, **kwargs: object) -> None:
    capture_user(user)


def capture_user(user: User) -> Membership | None:
    """Bring ``user`` into the organization whose verified domain with capture on holds their
    confirmed address; the membership made, or None (nothing to join, or a member already)."""
    if not user.email_verified or not user.is_active:
        return None
    name = address_domain(user.email)
    if not name:
        return None
    domain = (
        Domain.objects.select_related("organization")
        .filter(name=name, verified_at__isnull=False, capture=True)
        .first()
    )
    if domain is None:
        return None
    return _capture(domain.organization, user)


def _capture_everyone(domain: Domain) -> None:
    """Capture every active person whose confirmed address is in ``domain`` (in either spelling
    of an internationalised name)."""
    spellings = {domain.name, display_name(domain)}
    in_domain = Q()
    for spelling in spellings:
        in_domain |= Q(email__iendswith="@" + spelling)
    people = User.objects.filter(
        in_domain, is_active=True, email_verified_at__isnull=False
    ).exclude(org_memberships__organization_id=domain.organization_id)
    for user in people.iterator():
        if address_domain(user.email) == domain.name:
            _capture(domain.organization, user)


def _capture(organization: Organization, user: User) -> Membership | None:
    if organization.memberships.filter(user=user).exists() or left_or_removed(organization, user):
        return None
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                organization=organization, user=user, role=Role.MEMBER
            )
            record_event(
                organization,
                OrgEvent.Action.CAPTURED,
                actor=user,
                subject=user.email,
                role=Role.MEMBER,
            )
    except IntegrityError:  # joined a moment ago by another way
        return None
    return membership


def left_or_removed(organization: Organization, user: User) -> bool:
    """Whether ``user`` left the organization, or was removed from it: capture respects that."""
    return organization.events.filter(
        Q(action=OrgEvent.Action.LEFT, actor=user)
        | Q(action__in=[OrgEvent.Action.LEFT, OrgEvent.Action.REMOVED], subject=user.email)
    ).exists()
