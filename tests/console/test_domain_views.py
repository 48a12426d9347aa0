"""The domain pages as an admin uses them: add a domain, publish the record shown, check it, turn
capture off and on, remove it; and what members and outsiders reach (nothing)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgs.domains import record_value
from orgs.models import Domain, Membership, OrgEvent, Role, SsoProvider
from orgs.services import organization_create
from tests.factories import UserFactory
from tests.orgs.dns_zone import Zone, install

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone(settings) -> Zone:
    return install(settings)


@pytest.fixture
def org(owner):
    return organization_create(user=owner, name="Acme", ip_address=None)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _add(client, org, name="acme.example.com"):
    return client.post(reverse("console:domain_list", args=[org.id]), {"name": name})


def test_an_admin_adds_a_domain_and_is_shown_the_record_to_publish(org, owner):
    client = signed_in(owner)

    response = _add(client, org, "  Bücher.example ")

    domain = Domain.objects.get(organization=org)
    assert domain.name == "xn--bcher-kva.example"
    assert response["Location"] == reverse("console:domain", args=[org.id, domain.id])
    page = client.get(response["Location"]).content.decode()
    assert "bücher.example" in page
    assert f"multical-verification={domain.token}" in page
    assert "Waiting for its DNS record" in page and "Not checked yet" in page
    assert "Check now" in page
    listing = client.get(reverse("console:domain_list", args=[org.id])).content.decode()
    assert "bücher.example" in listing


def test_a_refused_name_is_a_field_error(org, owner):
    response = _add(signed_in(owner), org, "gmail.com")

    assert response.status_code == 200
    assert "public e-mail service" in response.content.decode()
    assert not Domain.objects.exists()


def test_the_domains_tab_is_on_the_organization_page_for_admins_only(org, owner):
    member = UserFactory()
    Membership.objects.create(organization=org, user=member)
    tab = reverse("console:domain_list", args=[org.id])
    page = reverse("console:organization", args=[org.id])

    assert tab in signed_in(owner).get(page).content.decode()
    assert tab not in signed_in(member).get(page).content.decode()


def test_check_now_verifies_the_domain_once_its_record_is_published(org, owner, zone):
    client = signed_in(owner)
    _add(client, org)
    domain = Domain.objects.get(organization=org)
    check = reverse("console:domain_check", args=[org.id, domain.id])

    waiting = client.post(check, follow=True).content.decode()
    assert "No verification record at acme.example.com yet" in waiting
    assert "Last checked" in waiting

    Domain.objects.filter(id=domain.id).update(checked_at=None)
    zone.publish(domain.name, record_value(domain))
    verified = client.post(check, follow=True).content.decode()

    assert "acme.example.com is verified." in verified
    assert "Check now" not in verified
    domain.refresh_from_db()
    assert domain.is_verified


def test_a_check_right_after_another_is_told_to_wait(org, owner, zone):
    client = signed_in(owner)
    _add(client, org)
    domain = Domain.objects.get(organization=org)
    check = reverse("console:domain_check", args=[org.id, domain.id])
    client.post(check)

    again = client.post(check, follow=True).content.decode()

    assert "was checked a moment ago" in again
    assert len(zone.asked) == 1


def test_checks_are_limited_per_account(org, owner, zone):
    from console.domain_views import DOMAIN_CHECK_RATE

    allowed = int(DOMAIN_CHECK_RATE.split("/")[0])
    client = signed_in(owner)
    _add(client, org)
    domain = Domain.objects.get(organization=org)
    check = reverse("console:domain_check", args=[org.id, domain.id])

    answers = [client.post(check).status_code for _ in range(allowed + 1)]

    assert answers[:allowed] == [302] * allowed
    assert answers[allowed] == 429


def test_with_capture_off_nobody_joins_and_turned_on_the_confirmed_join(org, owner, zone):
    client = signed_in(owner)
    _add(client, org)
    domain = Domain.objects.get(organization=org)
    capture = reverse("console:domain_capture", args=[org.id, domain.id])
    ada = UserFactory(email="ada@acme.example.com")

    client.post(capture, {})
    zone.publish(domain.name, record_value(domain))
    client.post(reverse("console:domain_check", args=[org.id, domain.id]))
    domain.refresh_from_db()
    assert domain.is_verified and not domain.capture
    assert not Membership.objects.filter(organization=org, user=ada).exists()

    turned_on = client.post(capture, {"capture": "on"}, follow=True).content.decode()

    domain.refresh_from_db()
    assert domain.capture
    assert "now join the organization" in turned_on
    assert Membership.objects.get(organization=org, user=ada).role == Role.MEMBER


def test_removing_a_domain_asks_first_and_keeps_members(org, owner, zone):
    client = signed_in(owner)
    _add(client, org)
    domain = Domain.objects.get(organization=org)
    remove = reverse("console:domain_remove", args=[org.id, domain.id])

    assert "Remove this domain?" in client.get(remove).content.decode()
    response = client.post(remove)

    assert response["Location"] == reverse("console:domain_list", args=[org.id])
    assert not Domain.objects.exists()
    assert org.events.filter(action=OrgEvent.Action.DOMAIN_REMOVED).exists()
    assert Membership.objects.filter(organization=org, user=owner).exists()


def test_a_member_gets_404_on_every_domain_page(org, owner, zone):
    client = signed_in(owner)
    _add(client, org)
    domain = Domain.objects.get(organization=org)
    member = UserFactory()
    Membership.objects.create(organization=org, user=member)
    as_member = signed_in(member)
    pages = [
        reverse("console:domain_list", args=[org.id]),
        reverse("console:domain", args=[org.id, domain.id]),
        reverse("console:domain_check", args=[org.id, domain.id]),
        reverse("console:domain_capture", args=[org.id, domain.id]),
        reverse("console:domain_remove", args=[org.id, domain.id]),
    ]

    assert [as_member.get(page).status_code for page in pages] == [404, 404, 405, 405, 404]
    assert [as_member.post(page, {"name": "x.example.com"}).status_code for page in pages] == [
        404
    ] * 5
    assert Domain.objects.filter(organization=org).count() == 1
    domain.refresh_from_db()
    assert domain.capture and domain.checked_at is None
    assert zone.asked == []


def test_another_organizations_domain_is_a_404(org, owner, second_user):
    _add(signed_in(owner), org)
    domain = Domain.objects.get(organization=org)
    theirs = organization_create(user=second_user, name="Rival", ip_address=None)
    client = signed_in(second_user)

    assert client.get(reverse("console:domain", args=[theirs.id, domain.id])).status_code == 404
    assert (
        client.post(reverse("console:domain_remove", args=[theirs.id, domain.id])).status_code
        == 404
    )
    assert Domain.objects.filter(id=domain.id).exists()


def test_the_check_says_first_who_it_signs_out_when_sso_is_required(org, owner):
    client = signed_in(owner)
    page_url = _add(client, org)["Location"]
    warning = "once the domain is verified, everyone with an address there is signed out"
    assert warning not in client.get(page_url).content.decode()

    provider = SsoProvider.objects.create(
        organization=org,
        issuer="https://idp.example.com/v2.0",
        client_id="client",
        client_secret="sealed",
        enabled=True,
        required=True,
    )
    assert warning in client.get(page_url).content.decode()
    provider.required = False
    provider.save()
    assert warning not in client.get(page_url).content.decode()
