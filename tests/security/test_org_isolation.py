"""Isolation inside an organization: a plain member on the URLs only owners and admins use, and a
member who was removed on every URL of the walk (``test_tenant_isolation``'s targets, filled with
the owner's objects). A member of another organization is that walk's outsider."""

from __future__ import annotations

import pytest
from django.test import Client

from orgs.models import Membership, Role
from orgs.services import membership_remove
from tests.factories import UserFactory
from tests.security.test_tenant_isolation import (
    OWNER,
    OWNER_ATTENDEE_EMAIL,
    POST_DATA,
    TARGETS,
    leaked,
    snapshot,
    url,
)
from tests.security.world import Tenant, make_tenant

pytestmark = pytest.mark.django_db

# What a plain member of the organization may open (reading only: the walk below GETs them).
MEMBER_PAGES = {"console:organization", "console:leave", "console:policies", "console:team_pages"}


@pytest.fixture
def tenant(radicale_server, owner) -> Tenant:
    """The owner's objects, as the tenant walk makes them."""
    return make_tenant(
        radicale_server, owner, OWNER, handle="owner-host", attendee_email=OWNER_ATTENDEE_EMAIL
    )


def _joined(tenant, role: Role) -> tuple[Client, Membership]:
    person = UserFactory()
    membership = Membership.objects.create(organization=tenant.organization, user=person, role=role)
    client = Client()
    client.force_login(person)
    return client, membership


def _walk(client: Client, names, tenant) -> list[str]:
    problems = []
    for name in names:
        path = url(name, TARGETS[name].fill(tenant))
        for response in [client.get(path), client.post(path, POST_DATA)]:
            method = response.request["REQUEST_METHOD"]
            if response.status_code not in {404, 405}:
                problems.append(f"{method} {name}: {response.status_code}")
            if leaked(response):
                problems.append(f"{method} {name} shows {leaked(response)}")
    return problems


def test_a_member_gets_404_on_every_admin_url_and_changes_nothing(tenant):
    client, _ = _joined(tenant, Role.MEMBER)
    admin_only = sorted(
        name for name in TARGETS if name.startswith("console:") and name not in MEMBER_PAGES
    )
    before = snapshot(tenant)

    problems = _walk(client, admin_only, tenant)

    assert admin_only, "the walk has no organization URLs"
    assert problems == []
    assert snapshot(tenant) == before
    for name in MEMBER_PAGES:  # the control: what a member may read, they reach
        assert client.get(url(name, TARGETS[name].fill(tenant))).status_code == 200


def test_a_removed_admin_gets_404_everywhere_at_once(tenant, owner):
    client, membership = _joined(tenant, Role.ADMIN)
    page = url("console:organization", TARGETS["console:organization"].fill(tenant))
    assert client.get(page).status_code == 200
    membership_remove(
        membership=Membership.objects.get(organization=tenant.organization, user=owner),
        target=membership,
        ip_address=None,
    )
    before = snapshot(tenant)

    problems = _walk(client, sorted(TARGETS), tenant)

    assert problems == []
    assert snapshot(tenant) == before
