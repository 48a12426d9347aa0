"""Organizations: who may do what, invitations from e-mail to membership, and owners never lost."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from orgs.models import Invitation, Membership, OrgEvent, Role
from orgs.services import (
    OrgRefused,
    invitation_accept,
    invitation_create,
    invitation_for_token,
    invitation_revoke,
    membership_change_role,
    membership_leave,
    membership_remove,
    organization_create,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(owner):
    return organization_create(user=owner, name="Acme", ip_address=None)


def _membership(org, user) -> Membership:
    return org.memberships.select_related("organization", "user").get(user=user)


@pytest.fixture(autouse=True)
def _on_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def _invite(org, by, email, role=Role.MEMBER) -> str:
    """Invite ``email`` and return the link's token, read from the e-mail sent once stored."""
    before = len(mail.outbox)
    with _capture(execute=True):
        invitation_create(membership=_membership(org, by), email=email, role=role, ip_address=None)
    (message,) = mail.outbox[before:]
    assert message.to == [email.lower()]
    link = next(line for line in message.body.splitlines() if "/orgs/join/" in line)
    return link.rstrip("/").rsplit("/", 1)[1]


def test_the_creator_is_the_owner(org, owner):
    assert _membership(org, owner).role == Role.OWNER
    assert OrgEvent.objects.filter(organization=org, action=OrgEvent.Action.CREATED).exists()


def test_an_invited_person_joins_with_the_role_they_were_given(org, owner):
    ada = UserFactory(email="ada@example.com")
    token = _invite(org, owner, "Ada@Example.com", Role.ADMIN)

    invitation = invitation_for_token(token)
    membership = invitation_accept(invitation=invitation, user=ada, ip_address="203.0.113.9")

    assert membership.role == Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert list(org.events.values_list("action", flat=True))[:2] == ["joined", "invited"]


def test_only_a_digest_of_the_link_is_stored(org, owner):
    token = _invite(org, owner, "ada@example.com")
    _id, secret = token.split(".")

    stored = Invitation.objects.get(organization=org)
    assert secret not in stored.digest
    assert invitation_for_token(f"{_id}.{'x' * len(secret)}") is None
    assert invitation_for_token("not-a-uuid.secret") is None


def test_an_invitation_is_for_its_address_only(org, owner):
    token = _invite(org, owner, "ada@example.com")
    mallory = UserFactory(email="mallory@example.com")

    with pytest.raises(OrgRefused, match=r"ada@example\.com"):
        invitation_accept(invitation=invitation_for_token(token), user=mallory, ip_address=None)
    assert not org.memberships.filter(user=mallory).exists()


def test_an_unconfirmed_address_cannot_join(org, owner):
    token = _invite(org, owner, "ada@example.com")
    ada = UserFactory(email="ada@example.com", email_verified_at=None)

    with pytest.raises(OrgRefused, match="Confirm your e-mail"):
        invitation_accept(invitation=invitation_for_token(token), user=ada, ip_address=None)


def test_an_expired_invitation_cannot_be_used(org, owner):
    token = _invite(org, owner, "ada@example.com")
    ada = UserFactory(email="ada@example.com")

    later = timezone.now() + timedelta(days=7, seconds=1)
    with time_machine.travel(later, tick=False), pytest.raises(OrgRefused, match="expired"):
        invitation_accept(invitation=invitation_for_token(token), user=ada, ip_address=None)


def test_a_link_works_once(org, owner):
    token = _invite(org, owner, "ada@example.com")
    ada = UserFactory(email="ada@example.com")
    invitation_accept(invitation=invitation_for_token(token), user=ada, ip_address=None)
    membership_leave(membership=_membership(org, ada), ip_address=None)

    with pytest.raises(OrgRefused, match="already been accepted"):
        invitation_accept(invitation=invitation_for_token(token), user=ada, ip_address=None)


def test_inviting_again_replaces_the_earlier_link(org, owner):
    first = _invite(org, owner, "ada@example.com")
    second = _invite(org, owner, "ada@example.com")
    ada = UserFactory(email="ada@example.com")

    with pytest.raises(OrgRefused, match="withdrawn or replaced"):
        invitation_accept(invitation=invitation_for_token(first), user=ada, ip_address=None)
    invitation_accept(invitation=invitation_for_token(second), user=ada, ip_address=None)


def test_a_withdrawn_invitation_cannot_be_used(org, owner):
    token = _invite(org, owner, "ada@example.com")
    invitation = invitation_for_token(token)
    invitation_revoke(membership=_membership(org, owner), invitation=invitation, ip_address=None)

    with pytest.raises(OrgRefused, match="withdrawn"):
        invitation_accept(
            invitation=invitation, user=UserFactory(email="ada@example.com"), ip_address=None
        )


def test_a_member_cannot_invite_and_an_admin_cannot_make_owners(org, owner):
    member, admin = UserFactory(), UserFactory()
    Membership.objects.create(organization=org, user=member, role=Role.MEMBER)
    Membership.objects.create(organization=org, user=admin, role=Role.ADMIN)

    with pytest.raises(OrgRefused):
        invitation_create(
            membership=_membership(org, member), email="x@example.com", role=Role.MEMBER,
            ip_address=None,
        )  # fmt: skip
    with pytest.raises(OrgRefused, match="Only an owner"):
        invitation_create(
            membership=_membership(org, admin), email="x@example.com", role=Role.OWNER,
            ip_address=None,
        )  # fmt: skip
    with pytest.raises(OrgRefused, match="Only an owner"):
        membership_change_role(
            membership=_membership(org, admin), target=_membership(org, member), role=Role.OWNER,
            ip_address=None,
        )  # fmt: skip
    with pytest.raises(OrgRefused, match="Only an owner"):
        membership_remove(
            membership=_membership(org, admin), target=_membership(org, owner), ip_address=None
        )
    assert _membership(org, owner).role == Role.OWNER


def test_an_admin_removes_a_member_and_their_own_things_stay(org, owner):
    from syncrules.models import SyncRule

    ada = UserFactory()
    Membership.objects.create(organization=org, user=ada, role=Role.MEMBER)
    rule = SyncRule.objects.create(user=ada, name="Mine")

    membership_remove(
        membership=_membership(org, owner), target=_membership(org, ada), ip_address=None
    )

    assert not org.memberships.filter(user=ada).exists()
    assert SyncRule.objects.filter(id=rule.id, user=ada).exists()


def test_the_last_owner_can_neither_leave_nor_be_demoted(org, owner):
    with pytest.raises(OrgRefused, match="needs an owner"):
        membership_leave(membership=_membership(org, owner), ip_address=None)
    with pytest.raises(OrgRefused, match="needs an owner"):
        membership_change_role(
            membership=_membership(org, owner), target=_membership(org, owner), role=Role.ADMIN,
            ip_address=None,
        )  # fmt: skip
    assert _membership(org, owner).role == Role.OWNER


def test_an_owner_leaves_once_another_owner_exists(org, owner):
    grace = UserFactory()
    Membership.objects.create(organization=org, user=grace, role=Role.MEMBER)
    membership_change_role(
        membership=_membership(org, owner), target=_membership(org, grace), role=Role.OWNER,
        ip_address=None,
    )  # fmt: skip

    membership_leave(membership=_membership(org, owner), ip_address=None)

    assert list(org.memberships.values_list("role", flat=True)) == [Role.OWNER]


def test_an_existing_member_is_not_invited(org, owner):
    with pytest.raises(OrgRefused, match="already a member"):
        invitation_create(
            membership=_membership(org, owner), email=owner.email.upper(), role=Role.MEMBER,
            ip_address=None,
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(owner):
    """Each checks "another owner remains" and demotes the other: without the organization's
    row lock both would succeed and leave none."""
    org = organization_create(user=owner, name="Acme", ip_address=None)
    grace = UserFactory()
    Membership.objects.create(organization=org, user=grace, role=Role.OWNER)
    pairs = [(owner, grace), (grace, owner)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(by, whom) -> None:
        try:
            start.wait()
            membership_change_role(
                membership=_membership(org, by), target=_membership(org, whom), role=Role.ADMIN,
                ip_address=None,
            )  # fmt: skip
            outcomes.append("demoted")
        except OrgRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert org.memberships.filter(role=Role.OWNER).count() >= 1
    assert sorted(outcomes) in (["demoted", "refused"], ["refused", "refused"])
