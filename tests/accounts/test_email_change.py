"""Changing one's e-mail address: asked with the password, proven from the new address, and only
then changed; the old address is told, every other session ends, and it is all audited."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import AuditLog, User
from accounts.tokens import email_change_token
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CHANGE = reverse("accounts:email_change")
LOGIN = reverse("accounts:login")
DASHBOARD = reverse("dashboard")
NEW = "ada.new@example.com"


@pytest.fixture
def ask(owner_client, django_capture_on_commit_callbacks):
    def post(email=NEW, password=DEFAULT_PASSWORD):
        with django_capture_on_commit_callbacks(execute=True):
            return owner_client.post(CHANGE, {"new_email": email, "password": password})

    return post


def link_in(mail) -> str:
    return re.search(r"http://testserver(/accounts/verify/email-change/\S+/)", mail.body).group(1)


def open_link(client, link, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.get(link)


def test_a_change_sends_a_link_to_the_new_address_and_changes_nothing_yet(ask, owner, mailoutbox):
    response = ask(email="Ada.New@Example.com")

    assert response.url == reverse("accounts:settings")
    assert [m.to for m in mailoutbox] == [[NEW]]
    assert mailoutbox[0].subject == "Confirm your new e-mail address for Multical"
    owner.refresh_from_db()
    assert owner.email == "owner@example.com"
    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.EMAIL_CHANGE_REQUESTED)
    assert entry.metadata == {"new_email": NEW}


def test_the_link_changes_the_address_and_tells_the_old_one_without_a_link(
    ask, owner, owner_client, mailoutbox, django_capture_on_commit_callbacks
):
    ask()
    link = link_in(mailoutbox[0])

    response = open_link(owner_client, link, django_capture_on_commit_callbacks)

    assert response.url == reverse("accounts:settings")
    owner.refresh_from_db()
    assert owner.email == NEW and owner.email_verified
    notice = mailoutbox[1]
    assert notice.to == ["owner@example.com"]
    assert notice.subject == "The e-mail address of your Multical account was changed"
    assert NEW in notice.body and "no link to undo the change" in notice.body
    assert "http" not in notice.body
    assert "href" not in notice.alternatives[0][0]
    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.EMAIL_CHANGED)
    assert entry.metadata == {"old_email": "owner@example.com", "new_email": NEW}
    # This session goes on; the password now logs in with the new address only.
    assert owner_client.get(DASHBOARD).status_code == 200
    assert Client().post(LOGIN, {"username": NEW, "password": DEFAULT_PASSWORD}).url == DASHBOARD
    old = Client().post(LOGIN, {"username": "owner@example.com", "password": DEFAULT_PASSWORD})
    assert old.status_code == 200


def test_the_change_signs_out_every_other_session(
    ask, owner, mailoutbox, django_capture_on_commit_callbacks
):
    elsewhere = Client()
    elsewhere.post(LOGIN, {"username": owner.email, "password": DEFAULT_PASSWORD})
    ask()

    open_link(Client(), link_in(mailoutbox[0]), django_capture_on_commit_callbacks)

    assert elsewhere.get(DASHBOARD).status_code == 302


def test_the_link_works_once(ask, mailoutbox, django_capture_on_commit_callbacks):
    ask()
    link = link_in(mailoutbox[0])
    open_link(Client(), link, django_capture_on_commit_callbacks)

    response = open_link(Client(), link, django_capture_on_commit_callbacks)

    assert response.status_code == 400
    assert AuditLog.objects.filter(action=AuditLog.Action.EMAIL_CHANGED).count() == 1


def test_an_expired_link_changes_nothing(
    ask, owner, mailoutbox, django_capture_on_commit_callbacks
):
    ask()
    link = link_in(mailoutbox[0])

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = open_link(Client(), link, django_capture_on_commit_callbacks)

    assert response.status_code == 400
    owner.refresh_from_db()
    assert owner.email == "owner@example.com"


def test_a_link_dies_when_the_password_changes(
    ask, owner, mailoutbox, django_capture_on_commit_callbacks
):
    ask()
    link = link_in(mailoutbox[0])
    owner.set_password("a brand new passphrase")
    owner.save(update_fields=["password"])

    assert open_link(Client(), link, django_capture_on_commit_callbacks).status_code == 400
    owner.refresh_from_db()
    assert owner.email == "owner@example.com"


def test_a_tampered_link_is_refused(ask, owner, mailoutbox, django_capture_on_commit_callbacks):
    ask()
    link = link_in(mailoutbox[0])
    forged = email_change_token(owner, "attacker@example.com")[:-2] + "xx"

    response = open_link(
        Client(),
        reverse("accounts:email_change_confirm", args=[forged]),
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == 400
    assert (
        open_link(Client(), link[:-4] + "abc/", django_capture_on_commit_callbacks).status_code
        == 400
    )


def test_the_password_is_required(ask, owner, mailoutbox):
    response = ask(password="not it")

    assert "That is not your password." in response.content.decode()
    assert mailoutbox == []
    assert not AuditLog.objects.filter(action=AuditLog.Action.EMAIL_CHANGE_REQUESTED).exists()


def test_wrong_passwords_are_limited(ask, settings):
    settings.FAILED_ATTEMPTS_RATE = "3/15m"
    for _ in range(3):
        ask(password="guess")

    assert ask().status_code == 429


def test_an_address_in_use_is_refused_when_asked(ask, mailoutbox):
    UserFactory(email="taken@example.com")

    response = ask(email="Taken@Example.com")

    assert "Another account uses this address." in response.content.decode()
    assert mailoutbox == []


def test_the_same_address_is_refused(ask):
    assert "That is your address already." in ask(email="Owner@Example.com").content.decode()


def test_an_address_claimed_meanwhile_is_refused_when_the_link_is_opened(
    ask, owner, mailoutbox, django_capture_on_commit_callbacks
):
    ask()
    link = link_in(mailoutbox[0])
    UserFactory(email=NEW)  # someone else got there first

    response = open_link(Client(), link, django_capture_on_commit_callbacks)

    assert response.status_code == 409
    owner.refresh_from_db()
    assert owner.email == "owner@example.com"


def test_two_accounts_racing_for_one_address_end_with_one_winner(owner, second_user):
    """The unique index decides when both pass the check at the same moment."""
    services.user_email_change_confirm(user=owner, new_email=NEW, ip_address=None)

    with pytest.raises(services.EmailTaken):
        services.user_email_change_confirm(user=second_user, new_email=NEW, ip_address=None)

    second_user.refresh_from_db()
    assert second_user.email == "second@example.com"
    assert User.objects.filter(email=NEW).get() == owner


def test_an_account_without_a_password_is_asked_to_set_one_first(client, owner):
    owner.set_unusable_password()
    owner.save(update_fields=["password"])
    client.force_login(owner)

    response = client.get(CHANGE)

    assert "has no password yet" in response.content.decode()
    assert client.post(CHANGE, {"new_email": NEW, "password": ""}).status_code == 200
    owner.refresh_from_db()
    assert owner.email == "owner@example.com"


def test_the_change_page_requires_log_in(client):
    assert client.get(CHANGE).url.startswith(LOGIN)
