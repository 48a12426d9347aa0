"""Domains: names kept one way, proved by a TXT record read through the test zone, verified for
one organization at most (also when two race), and confirmed addresses captured as members."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.services import (
    user_email_change_confirm,
    user_register,
    user_register_with_provider,
    user_sign_in_with_provider,
    user_verify_email,
)
from orgs.domains import (
    CHECK_INTERVAL,
    RECHECK_FOR,
    RECHECK_INTERVAL,
    CheckOutcome,
    domain_add,
    domain_check,
    domain_remove,
    domain_set_capture,
    normalize_domain,
    organization_for_address,
    record_value,
)
from orgs.models import Domain, Membership, OrgEvent, Role
from orgs.services import OrgRefused, membership_leave, organization_create
from orgs.tasks import recheck_waiting_domains
from tests.factories import UserFactory
from tests.orgs.dns_zone import Zone, install

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone(settings) -> Zone:
    return install(settings)


@pytest.fixture
def org(owner):
    return organization_create(user=owner, name="Acme", ip_address=None)


def _admin(org, user=None) -> Membership:
    memberships = org.memberships.select_related("organization", "user")
    return memberships.get(user=user) if user else memberships.get(role=Role.OWNER)


def _add(org, name="acme.example.com") -> Domain:
    return domain_add(membership=_admin(org), name=name, ip_address=None)


def _check(org, domain) -> CheckOutcome:
    return domain_check(membership=_admin(org), domain=domain, ip_address=None)


def _verified(org, zone, name="acme.example.com", *, capture=True) -> Domain:
    domain = _add(org, name)
    if not capture:
        domain_set_capture(membership=_admin(org), domain=domain, capture=False, ip_address=None)
    zone.publish(domain.name, record_value(domain))
    assert _check(org, domain) == CheckOutcome.VERIFIED
    return domain


def _member_of(org, user) -> Membership | None:
    return org.memberships.filter(user=user).first()


# Names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("acme.com", "acme.com"),
        ("  Acme.COM. ", "acme.com"),
        ("@acme.com", "acme.com"),
        ("Bücher.DE", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("mail.eu.acme.co.uk", "mail.eu.acme.co.uk"),
    ],
)
def test_a_domain_is_kept_lower_case_in_its_ascii_form(typed, kept):
    assert normalize_domain(typed) == kept


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "Type a domain"),
        ("gmail.com", "public e-mail service"),
        ("Outlook.com", "public e-mail service"),
        ("icloud.com", "public e-mail service"),
        ("ada@acme.com", "the domain alone"),
        ("https://acme.com/", "the domain alone"),
        ("acme.com:443", "the domain alone"),
        ("localhost", "the whole domain"),
        ("203.0.113.9", "not an IP address"),
        ("acme_corp.com", "not a domain name"),
        ("-acme.com", "not a domain name"),
        ("ac me.com", "not a domain name"),
        ("acme..com", "not a domain name"),
        ("a" * 64 + ".com", "not a domain name"),
    ],
)
def test_malformed_names_and_public_mail_providers_are_refused(typed, said):
    with pytest.raises(OrgRefused, match=said):
        normalize_domain(typed)


def test_an_added_domain_waits_for_its_record_with_a_token_of_its_own(org, owner):
    first = _add(org, "Acme.example.com")
    second = _add(org, "acme.example.org")

    assert first.name == "acme.example.com"
    assert first.verified_at is None and first.capture
    assert len(first.token) >= 40 and first.token != second.token
    assert record_value(first) == f"multical-verification={first.token}"
    event = org.events.get(action=OrgEvent.Action.DOMAIN_ADDED, subject="acme.example.com")
    assert event.actor == owner


def test_a_domain_is_added_once_and_only_by_admins(org, owner):
    _add(org)
    with pytest.raises(OrgRefused, match="already one of this organization's domains"):
        _add(org, "ACME.example.com")

    member = UserFactory()
    Membership.objects.create(organization=org, user=member, role=Role.MEMBER)
    with pytest.raises(OrgRefused, match="owners and admins"):
        domain_add(membership=_admin(org, member), name="acme.example.org", ip_address=None)


def test_a_domain_another_organization_verified_cannot_be_added(org, zone, second_user):
    _verified(org, zone)
    other = organization_create(user=second_user, name="Rival", ip_address=None)

    with pytest.raises(OrgRefused, match="already verified by another organization"):
        _add(other, "acme.example.com")


# Checks -----------------------------------------------------------------------------------------


def test_without_the_record_the_domain_stays_waiting(org, zone):
    domain = _add(org)
    zone.publish(domain.name, "v=spf1 -all")

    assert _check(org, domain) == CheckOutcome.MISSING

    domain.refresh_from_db()
    assert domain.verified_at is None and domain.checked_at is not None
    assert zone.asked == ["acme.example.com"]


def test_a_record_with_another_token_is_told_apart(org, zone):
    domain = _add(org)
    zone.publish(domain.name, "multical-verification=" + "x" * 40)

    assert _check(org, domain) == CheckOutcome.MISMATCH
    domain.refresh_from_db()
    assert not domain.is_verified


def test_the_right_record_among_several_verifies_the_domain(org, zone, owner):
    domain = _add(org)
    zone.publish(domain.name, "v=spf1 include:_spf.example.net -all")
    zone.publish(domain.name, "google-site-verification=abc")
    zone.publish(domain.name, record_value(domain))

    assert _check(org, domain) == CheckOutcome.VERIFIED

    domain.refresh_from_db()
    assert domain.verified_at is not None
    event = org.events.get(action=OrgEvent.Action.DOMAIN_VERIFIED)
    assert (event.actor, event.subject) == (owner, "acme.example.com")


def test_a_record_split_into_strings_counts_as_one_value(org, zone):
    domain = _add(org)
    value = record_value(domain)
    zone.publish(domain.name, value[:20], value[20:35], value[35:])

    assert _check(org, domain) == CheckOutcome.VERIFIED


def test_quotes_a_dns_host_kept_around_the_value_do_not_matter(org, zone):
    domain = _add(org)
    zone.publish(domain.name, f'"{record_value(domain)}"')

    assert _check(org, domain) == CheckOutcome.VERIFIED


def test_the_record_of_another_name_does_not_count(org, zone):
    domain = _add(org)
    zone.publish("www.acme.example.com", record_value(domain))
    zone.publish("_multical.acme.example.com", record_value(domain))

    assert _check(org, domain) == CheckOutcome.MISSING


def test_dns_that_cannot_be_read_is_said_so(org, zone):
    domain = _add(org)
    zone.failing.add(domain.name)

    with pytest.raises(OrgRefused, match="DNS could not be read"):
        _check(org, domain)
    domain.refresh_from_db()
    assert not domain.is_verified


def test_a_domain_is_checked_at_most_once_per_interval(org, zone):
    domain = _add(org)
    assert _check(org, domain) == CheckOutcome.MISSING

    with pytest.raises(OrgRefused, match="checked a moment ago"):
        _check(org, domain)
    assert len(zone.asked) == 1

    zone.publish(domain.name, record_value(domain))
    with time_machine.travel(timezone.now() + CHECK_INTERVAL + timedelta(seconds=1)):
        assert _check(org, domain) == CheckOutcome.VERIFIED
    assert len(zone.asked) == 2


def test_a_verified_domain_is_not_read_again(org, zone):
    domain = _verified(org, zone)

    assert _check(org, domain) == CheckOutcome.VERIFIED
    assert len(zone.asked) == 1


def test_a_member_cannot_check(org, zone):
    domain = _add(org)
    member = UserFactory()
    Membership.objects.create(organization=org, user=member, role=Role.MEMBER)

    with pytest.raises(OrgRefused):
        domain_check(membership=_admin(org, member), domain=domain, ip_address=None)
    assert zone.asked == []


@pytest.mark.django_db(transaction=True)
def test_two_organizations_proving_one_domain_at_once_verify_it_once(zone, owner, second_user):
    """Both find their own record (the domain's DNS lists both) and mark their row verified: the
    partial unique index lets one commit and tells the other."""
    first = organization_create(user=owner, name="Acme", ip_address=None)
    second = organization_create(user=second_user, name="Rival", ip_address=None)
    domains = [_add(first), _add(second)]
    for domain in domains:
        zone.publish(domain.name, record_value(domain))
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def verify(domain: Domain) -> None:
        try:
            start.wait()
            outcomes.append(_check(domain.organization, domain).value)
        except OrgRefused as refusal:
            outcomes.append(refusal.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=verify, args=[domain]) for domain in domains]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Domain.objects.filter(name="acme.example.com", verified_at__isnull=False).count() == 1
    assert len(outcomes) == 2 and "verified" in outcomes
    (refusal,) = [outcome for outcome in outcomes if outcome != "verified"]
    assert "already verified by another organization" in refusal
    assert OrgEvent.objects.filter(action=OrgEvent.Action.DOMAIN_VERIFIED).count() == 1


def test_a_domain_given_up_can_be_verified_by_another_organization(org, zone, second_user):
    domain = _verified(org, zone)
    domain_remove(membership=_admin(org), domain=domain, ip_address=None)
    other = organization_create(user=second_user, name="Rival", ip_address=None)

    assert _verified(other, zone).organization == other
    assert org.events.filter(action=OrgEvent.Action.DOMAIN_REMOVED).exists()


# The organization for an address ----------------------------------------------------------------


def test_an_address_belongs_to_the_organization_that_verified_its_domain(org, zone):
    domain = _add(org)
    assert organization_for_address("ada@acme.example.com") is None

    zone.publish(domain.name, record_value(domain))
    _check(org, domain)

    assert organization_for_address("Ada@ACME.example.com") == org
    assert organization_for_address("ada@sub.acme.example.com") is None
    assert organization_for_address("ada@example.com") is None
    assert organization_for_address("not an address") is None


def test_an_internationalised_address_finds_its_domain(org, zone):
    _verified(org, zone, "bücher.example")

    assert organization_for_address("ada@Bücher.example") == org
    assert organization_for_address("ada@xn--bcher-kva.example") == org


# Capture ----------------------------------------------------------------------------------------


def test_a_sign_up_joins_when_its_address_is_confirmed_and_not_before(org, zone):
    _verified(org, zone)
    ada = user_register(
        email="Ada@acme.example.com", password="x" * 16, time_zone="UTC", marketing_email=False
    )
    assert _member_of(org, ada) is None

    assert user_verify_email(user=ada)

    membership = _member_of(org, ada)
    assert membership is not None and membership.role == Role.MEMBER
    event = org.events.get(action=OrgEvent.Action.CAPTURED)
    assert (event.actor, event.subject, event.role) == (ada, "ada@acme.example.com", "member")


def test_no_capture_from_a_domain_that_is_not_verified_or_has_capture_off(org, zone, second_user):
    _add(org, "waiting.example.com")
    _verified(org, zone, "quiet.example.com", capture=False)

    for address in ["ada@waiting.example.com", "grace@quiet.example.com"]:
        user = UserFactory(email=address, email_verified_at=None)
        user_verify_email(user=user)
        assert _member_of(org, user) is None
    assert not org.events.filter(action=OrgEvent.Action.CAPTURED).exists()


def test_an_e_mail_change_into_the_domain_joins_when_confirmed(org, zone):
    _verified(org, zone)
    ada = UserFactory(email="ada@example.net")

    user_email_change_confirm(user=ada, new_email="ada@acme.example.com", ip_address=None)

    assert _member_of(org, ada) is not None


def test_a_provider_sign_up_with_a_verified_address_joins(org, zone):
    _verified(org, zone)

    ada = user_register_with_provider(
        email="ada@acme.example.com", time_zone="UTC", marketing_email=False
    )

    assert _member_of(org, ada) is not None


def test_a_provider_sign_in_that_proves_an_unconfirmed_address_joins(org, zone):
    _verified(org, zone)
    ada = UserFactory(email="ada@acme.example.com", email_verified_at=None)

    assert user_sign_in_with_provider(email="ada@acme.example.com", email_verified=False) is None
    assert _member_of(org, ada) is None
    user_sign_in_with_provider(email="ada@acme.example.com", email_verified=True)

    assert _member_of(org, ada) is not None


def test_confirmed_people_join_when_the_domain_is_verified_and_unconfirmed_ones_do_not(org, zone):
    confirmed = UserFactory(email="ada@acme.example.com")
    unconfirmed = UserFactory(email="grace@acme.example.com", email_verified_at=None)
    disabled = UserFactory(email="mallory@acme.example.com", is_active=False)
    elsewhere = UserFactory(email="ada@notacme.example.com")

    _verified(org, zone)

    assert _member_of(org, confirmed) is not None
    assert [_member_of(org, u) for u in (unconfirmed, disabled, elsewhere)] == [None] * 3
    assert org.events.filter(action=OrgEvent.Action.CAPTURED).count() == 1


def test_turning_capture_on_later_brings_in_confirmed_people(org, zone):
    domain = _verified(org, zone, capture=False)
    ada = UserFactory(email="ada@acme.example.com")
    assert _member_of(org, ada) is None

    domain_set_capture(membership=_admin(org), domain=domain, capture=True, ip_address=None)

    assert _member_of(org, ada) is not None


def test_a_member_keeps_their_role_and_capture_happens_once(org, zone):
    grace = UserFactory(email="grace@acme.example.com")
    Membership.objects.create(organization=org, user=grace, role=Role.ADMIN)
    domain = _verified(org, zone)
    ada = UserFactory(email="ada@acme.example.com", email_verified_at=None)
    user_verify_email(user=ada)

    domain_set_capture(membership=_admin(org), domain=domain, capture=False, ip_address=None)
    domain_set_capture(membership=_admin(org), domain=domain, capture=True, ip_address=None)
    user_email_change_confirm(user=ada, new_email="ada@acme.example.com", ip_address=None)

    assert _member_of(org, grace).role == Role.ADMIN
    assert org.memberships.filter(user=ada).count() == 1
    assert list(
        org.events.filter(action=OrgEvent.Action.CAPTURED).values_list("subject", flat=True)
    ) == ["ada@acme.example.com"]


def test_someone_who_left_is_not_brought_back_by_capture(org, zone):
    domain = _verified(org, zone)
    ada = UserFactory(email="ada@acme.example.com", email_verified_at=None)
    user_verify_email(user=ada)
    membership_leave(membership=_admin(org, ada), ip_address=None)

    domain_set_capture(membership=_admin(org), domain=domain, capture=False, ip_address=None)
    domain_set_capture(membership=_admin(org), domain=domain, capture=True, ip_address=None)
    user_email_change_confirm(user=ada, new_email="ada@acme.example.com", ip_address=None)

    assert _member_of(org, ada) is None


def test_a_removed_domain_captures_no_one_and_its_members_stay(org, zone):
    domain = _verified(org, zone)
    ada = UserFactory(email="ada@acme.example.com", email_verified_at=None)
    user_verify_email(user=ada)

    domain_remove(membership=_admin(org), domain=domain, ip_address=None)
    grace = UserFactory(email="grace@acme.example.com", email_verified_at=None)
    user_verify_email(user=grace)

    assert not org.domains.exists()
    assert _member_of(org, ada) is not None
    assert _member_of(org, grace) is None


# The periodic check -----------------------------------------------------------------------------


def test_the_beat_verifies_a_domain_whose_record_appeared(org, zone):
    domain = _add(org)
    zone.publish(domain.name, record_value(domain))

    recheck_waiting_domains()

    domain.refresh_from_db()
    assert domain.is_verified
    event = OrgEvent.objects.get(organization=org, action=OrgEvent.Action.DOMAIN_VERIFIED)
    assert (event.actor, event.subject) == (None, domain.name)


def test_the_beat_reads_each_waiting_domain_once_per_interval(org, zone):
    domain = _add(org)
    recheck_waiting_domains()
    recheck_waiting_domains()  # a second beat at once, or the next run too soon
    assert zone.asked == [domain.name]

    Domain.objects.filter(id=domain.id).update(
        checked_at=timezone.now() - RECHECK_INTERVAL - timedelta(seconds=1)
    )
    recheck_waiting_domains()
    assert zone.asked == [domain.name, domain.name]


def test_the_beat_leaves_old_and_verified_domains_alone(org, zone):
    old = _add(org, "old.example.com")
    Domain.objects.filter(id=old.id).update(created_at=timezone.now() - RECHECK_FOR)
    _verified(org, zone, "done.example.com")
    zone.asked.clear()

    recheck_waiting_domains()

    assert zone.asked == []


def test_the_beat_shrugs_off_a_dns_server_down(org, zone):
    failing = _add(org, "down.example.com")
    zone.failing.add(failing.name)
    mine = _add(org, "mine.example.com")
    zone.publish(mine.name, record_value(mine))

    recheck_waiting_domains()  # no exception for the one DNS could not read

    failing.refresh_from_db()
    mine.refresh_from_db()
    assert not failing.is_verified and failing.checked_at is not None
    assert mine.is_verified
