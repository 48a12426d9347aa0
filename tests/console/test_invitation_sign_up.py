"""Joining by an invitation without an account yet: the sign-up carries the invitation's link,
and confirming the address lands back on it. And one invitation accepted twice at the same
moment, on two connections, makes one membership."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection as db_connection
from django.urls import reverse

from orgs.models import Membership, OrgEvent, Role
from orgs.services import (
    OrgRefused,
    invitation_accept,
    invitation_create,
    invitation_for_token,
    organization_create,
)
from tests.factories import UserFactory

INVITED = "new.colleague@example.com"
SIGN_UP = {
    "email": INVITED,
    "password": "a long and unusual passphrase",
    "time_zone": "Europe/Berlin",
    "accept_legal": "on",
}


def invite(owner, email=INVITED) -> tuple[object, str]:
    org = organization_create(user=owner, name="Acme", ip_address=None)
    _invitation, token = invitation_create(
        membership=org.memberships.get(user=owner), email=email, role=Role.MEMBER, ip_address=None
    )
    return org, reverse("console:invitation_accept", args=[token])


def verification_link(mail) -> str:
    return re.search(r"http://testserver(/accounts/verify/\S+/)", mail.body).group(1)


@pytest.mark.django_db
def test_signing_up_from_an_invitation_lands_back_on_it(
    owner, client, mailoutbox, django_capture_on_commit_callbacks
):
    org, invitation = invite(owner)

    page = client.get(invitation).content.decode()
    sign_up = reverse("accounts:signup") + "?next=" + invitation
    assert sign_up in page
    form = client.get(sign_up).content.decode()
    assert f'name="next" value="{invitation}"' in form
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), {**SIGN_UP, "next": invitation})
    (mail,) = [m for m in mailoutbox if INVITED in m.to]

    confirmed = client.get(verification_link(mail))

    assert confirmed["Location"] == invitation
    joined = client.post(invitation)
    assert joined["Location"] == reverse("console:organization", args=[org.id])
    assert Membership.objects.filter(organization=org, user__email=INVITED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/orgs/join/x/", "//evil.example/", "javascript:alert(1)"]
)
def test_a_next_off_this_site_is_dropped(
    client, mailoutbox, elsewhere, django_capture_on_commit_callbacks
):
    form = client.get(reverse("accounts:signup"), {"next": elsewhere}).content.decode()
    assert "evil.example" not in form
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:signup"), {**SIGN_UP, "next": elsewhere})

    confirmed = client.get(verification_link(mailoutbox[0]))

    assert confirmed["Location"] == reverse("dashboard")


@pytest.mark.django_db
def test_the_log_in_link_of_the_sign_up_page_keeps_the_invitation(owner, client):
    _org, invitation = invite(owner)

    form = client.get(reverse("accounts:signup"), {"next": invitation}).content.decode()

    assert reverse("accounts:login") + "?next=" + invitation.replace("/", "%2F") in form


@pytest.mark.django_db(transaction=True)
def test_two_accepts_at_once_on_two_connections_make_one_membership(owner):
    org, path = invite(owner)
    token = path.rstrip("/").rsplit("/", 1)[-1]
    person = UserFactory(email=INVITED)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def accept() -> None:
        try:
            invitation = invitation_for_token(token)
            start.wait(timeout=10)
            invitation_accept(invitation=invitation, user=person, ip_address=None)
            outcomes.append("joined")
        except OrgRefused:
            outcomes.append("refused")
        finally:
            db_connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["joined", "refused"]
    assert Membership.objects.filter(organization=org, user=person).count() == 1
    assert OrgEvent.objects.filter(organization=org, action=OrgEvent.Action.JOINED).count() == 1
