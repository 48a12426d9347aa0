"""The organization pages as people use them: create, invite by e-mail, join by the link, manage
members, leave; and what each role may reach."""

from __future__ import annotations

import csv
import io

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from orgs.models import Membership, OrgEvent, Role
from orgs.services import organization_create
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def org(owner):
    return organization_create(user=owner, name="Acme", ip_address=None)


def test_creating_an_organization_makes_you_its_owner(owner):
    client = signed_in(owner)

    response = client.post(reverse("console:organization_create"), {"name": "  Acme  "})

    membership = Membership.objects.get(user=owner)
    assert response["Location"] == reverse(
        "console:organization", args=[membership.organization_id]
    )
    assert membership.organization.name == "Acme"
    assert membership.role == Role.OWNER


def test_a_blank_name_is_a_field_error(owner):
    response = signed_in(owner).post(reverse("console:organization_create"), {"name": "   "})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Membership.objects.filter(user=owner).exists()


def test_an_invitation_travels_by_e_mail_and_joins_on_the_invited_account(
    org, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(owner).post(
            reverse("console:invitation_create", args=[org.id]),
            {"email": "grace@example.com", "role": "admin"},
        )
    assert response.status_code == 302
    (message,) = mail.outbox
    assert "Acme" in message.subject
    link = next(line for line in message.body.splitlines() if "/orgs/join/" in line)
    path = link.split("testserver", 1)[-1] if "testserver" in link else link[link.index("/orgs/") :]

    anonymous = Client().get(path)
    assert anonymous.status_code == 200
    assert "grace@example.com" in anonymous.content.decode()
    assert Client().post(path)["Location"].startswith(reverse("accounts:login"))

    grace = UserFactory(email="grace@example.com")
    client = Client()
    client.login(email=grace.email, password=DEFAULT_PASSWORD)
    assert client.get(path).status_code == 200
    joined = client.post(path)

    assert joined["Location"] == reverse("console:organization", args=[org.id])
    assert Membership.objects.get(organization=org, user=grace).role == Role.ADMIN


def test_someone_else_signed_in_cannot_use_the_link(
    org, owner, outsider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in(owner).post(
            reverse("console:invitation_create", args=[org.id]),
            {"email": "grace@example.com", "role": "member"},
        )
    link = next(line for line in mail.outbox[0].body.splitlines() if "/orgs/join/" in line)
    path = link[link.index("/orgs/") :]

    response = signed_in(outsider).post(path)

    assert response.status_code == 409
    assert "This invitation is for grace@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=outsider).exists()


def test_a_forged_link_is_a_404(org):
    assert Client().get(reverse("console:invitation_accept", args=["nonsense"])).status_code == 404


def test_an_admin_sees_states_and_a_member_only_names_and_roles(org, owner):
    from calendars.models import Connection
    from tests.factories import ConnectionFactory

    member = UserFactory(email="member@example.com")
    Membership.objects.create(organization=org, user=member)
    ConnectionFactory(user=member, status=Connection.Status.NEEDS_RECONNECT)

    as_admin = signed_in(owner).get(reverse("console:organization", args=[org.id])).content.decode()
    as_member = (
        signed_in(member).get(reverse("console:organization", args=[org.id])).content.decode()
    )

    assert "1 needs reconnecting" in as_admin
    assert "member@example.com" in as_member and "owner@example.com" in as_member
    assert "needs reconnecting" not in as_member


def test_a_member_gets_404_on_every_admin_page(org, owner):
    member = UserFactory()
    Membership.objects.create(organization=org, user=member)
    client = signed_in(member)
    admin_pages = [
        reverse("console:invitation_create", args=[org.id]),
        reverse("console:member", args=[org.id, owner.id]),
        reverse("console:member_remove", args=[org.id, owner.id]),
        reverse("console:organization_settings", args=[org.id]),
        reverse("console:organization_delete", args=[org.id]),
        reverse("console:event_log", args=[org.id]),
    ]

    assert [client.get(page).status_code for page in admin_pages] == [404, 404, 405, 404, 404, 404]
    assert [
        client.post(page, {"role": "owner", "name": "x"}).status_code for page in admin_pages
    ] == [404] * 6
    assert Membership.objects.get(organization=org, user=owner).role == Role.OWNER
    org.refresh_from_db()
    assert org.name == "Acme"


def test_a_removed_member_loses_access_at_once(org, owner):
    ada = UserFactory()
    Membership.objects.create(organization=org, user=ada)
    ada_client = signed_in(ada)
    assert ada_client.get(reverse("console:organization", args=[org.id])).status_code == 200

    signed_in(owner).post(reverse("console:member_remove", args=[org.id, ada.id]))

    assert ada_client.get(reverse("console:organization", args=[org.id])).status_code == 404
    assert OrgEvent.objects.filter(organization=org, action=OrgEvent.Action.REMOVED).exists()


def test_leaving_as_the_last_owner_says_why_not(org, owner):
    response = signed_in(owner).post(reverse("console:leave", args=[org.id]))

    assert response.status_code == 409
    assert "needs an owner" in response.content.decode()
    assert Membership.objects.filter(organization=org, user=owner).exists()


def test_the_activity_log_downloads_as_csv_that_runs_no_formula(
    org, owner, django_capture_on_commit_callbacks
):
    client = signed_in(owner)
    client.post(reverse("console:organization_settings", args=[org.id]), {"name": "=HYPERLINK(1)"})

    response = client.get(reverse("console:event_log", args=[org.id]) + "?format=csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["time", "action", "by", "subject", "role", "ip_address"]
    assert [row[1] for row in rows[1:]] == ["renamed", "created"]
    assert rows[1][3] == "'=HYPERLINK(1)"


def test_the_owner_deletes_the_organization_and_keeps_their_things(org, owner):
    from syncrules.models import SyncRule

    rule = SyncRule.objects.create(user=owner, name="Mine")
    response = signed_in(owner).post(reverse("console:organization_delete", args=[org.id]))

    assert response["Location"] == reverse("console:organization_list")
    assert not Membership.objects.filter(user=owner).exists()
    assert SyncRule.objects.filter(id=rule.id).exists()


def test_invitations_are_limited_per_inviting_account(org, owner):
    from console.views import INVITATION_RATE

    allowed = int(INVITATION_RATE.split("/")[0])
    client = signed_in(owner)
    path = reverse("console:invitation_create", args=[org.id])
    answers = [
        client.post(path, {"email": f"person{n}@example.com", "role": "member"}).status_code
        for n in range(allowed + 1)
    ]

    assert answers[:allowed] == [302] * allowed
    assert answers[allowed] == 429
    assert org.invitations.count() == allowed
