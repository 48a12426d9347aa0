import re

import argon2
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_passwords_are_stored_as_argon2id_with_the_promised_parameters():
    user = User.objects.create_user("hash@example.com", "a long and unusual passphrase")

    prefix, encoded = user.password.split("$", 1)
    parameters = argon2.extract_parameters("$" + encoded)

    assert prefix == "argon2"
    assert parameters.type is argon2.Type.ID
    assert parameters.memory_cost == 19_456
    assert parameters.time_cost == 2
    assert parameters.parallelism == 1
    assert "a long and unusual passphrase" not in user.password


def test_a_hash_with_weaker_parameters_is_upgraded_at_login(client):
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(DEFAULT_PASSWORD)
    user = UserFactory(password="argon2" + weak)

    client.post(reverse("accounts:login"), {"username": user.email, "password": DEFAULT_PASSWORD})

    user.refresh_from_db()
    assert argon2.extract_parameters("$" + user.password.split("$", 1)[1]).memory_cost == 19_456


def reset_link(mail) -> str:
    return re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.body).group(1)


def test_password_reset_by_email(client, owner, mailoutbox):
    client.post(reverse("accounts:password_reset"), {"email": owner.email.upper()})
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "Reset your Multical password"

    form_url = client.get(reset_link(mailoutbox[0])).url
    response = client.post(
        form_url,
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )

    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert client.login(email=owner.email, password="a brand new passphrase")


def test_a_used_reset_link_no_longer_works(client, owner, mailoutbox):
    client.post(reverse("accounts:password_reset"), {"email": owner.email})
    link = reset_link(mailoutbox[0])
    form_url = client.get(link).url
    client.post(
        form_url,
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )

    response = client.get(link, follow=True)

    assert "This link no longer works" in response.content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, mailoutbox):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert response.url == reverse("accounts:password_reset_done")
    assert mailoutbox == []


def test_password_reset_links_use_the_site_url_not_the_host_header(
    client, owner, mailoutbox, settings
):
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    client.post(
        reverse("accounts:password_reset"), {"email": owner.email}, HTTP_HOST="evil.example"
    )
    assert "evil.example" not in mailoutbox[0].body
    assert "http://testserver/accounts/password/reset/" in mailoutbox[0].body


def test_password_reset_also_verifies_the_address(client, mailoutbox):
    user = UserFactory(email_verified_at=None)
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    form_url = client.get(reset_link(mailoutbox[0])).url
    client.post(
        form_url,
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )

    user.refresh_from_db()
    assert user.email_verified


def test_password_change_requires_the_old_password(owner_client, owner):
    response = owner_client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "not it",
            "new_password1": "a brand new passphrase",
            "new_password2": "a brand new passphrase",
        },
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(DEFAULT_PASSWORD)


def test_password_change_validates_the_new_password(owner_client):
    response = owner_client.post(
        reverse("accounts:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": "short", "new_password2": "short"},
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()


def test_an_account_made_through_a_provider_sets_its_first_password_by_reset(
    client, owner, mailoutbox
):
    owner.set_unusable_password()
    owner.save(update_fields=["password"])

    client.post(reverse("accounts:password_reset"), {"email": owner.email})
    form_url = client.get(reset_link(mailoutbox[0])).url
    client.post(
        form_url,
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )

    assert client.login(email=owner.email, password="a brand new passphrase")


def test_an_account_being_deleted_gets_no_reset_mail(client, owner, mailoutbox):
    type(owner).objects.filter(id=owner.id).update(deletion_requested_at=timezone.now())
    client.post(reverse("accounts:password_reset"), {"email": owner.email})
    assert mailoutbox == []
