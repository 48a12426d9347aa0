"""Session security: cookie flags, rotation at login, and sessions that end when they should."""

import pytest
from django.contrib.sessions.backends.cache import SessionStore
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
DASHBOARD = reverse("dashboard")


def log_in(client, user):
    return client.post(LOGIN, {"username": user.email, "password": DEFAULT_PASSWORD})


def test_the_session_cookie_is_httponly_lax_and_lasts_a_day(client, owner):
    response = log_in(client, owner)

    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 24 * 60 * 60


def test_sessions_live_in_redis(client, owner, settings):
    log_in(client, owner)
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"
    assert (
        settings.CACHES["default"]["BACKEND"] == "multical.lib.redis_cache.SharedClientRedisCache"
    )
    assert SessionStore(client.cookies["sessionid"].value).exists(client.cookies["sessionid"].value)


def test_session_id_and_csrf_token_rotate_at_login(client, owner):
    client.get(reverse("accounts:signup"))
    client.post(
        reverse("accounts:verify_resend"), {"email": "someone@example.com"}
    )  # an anonymous session
    old_session = client.cookies["sessionid"].value
    old_csrf = client.cookies["csrftoken"].value

    log_in(client, owner)

    assert client.cookies["sessionid"].value != old_session
    assert client.cookies["csrftoken"].value != old_csrf
    assert not SessionStore().exists(old_session)


def test_a_fixated_session_id_is_not_logged_in(client, owner):
    client.get(reverse("accounts:signup"))
    client.post(reverse("accounts:verify_resend"), {"email": "someone@example.com"})
    planted = client.cookies["sessionid"].value

    log_in(client, owner)

    attacker = Client()
    attacker.cookies["sessionid"] = planted
    assert attacker.get(DASHBOARD).status_code == 302


def test_logout_ends_the_session_at_once(client, owner):
    log_in(client, owner)
    session_key = client.cookies["sessionid"].value
    stolen = Client()
    stolen.cookies["sessionid"] = session_key
    assert stolen.get(DASHBOARD).status_code == 200

    client.post(reverse("accounts:logout"))

    assert not SessionStore().exists(session_key)
    assert stolen.get(DASHBOARD).status_code == 302
    assert client.get(DASHBOARD).status_code == 302


def test_password_change_ends_this_session_and_every_other(owner):
    here, elsewhere = Client(), Client()
    log_in(here, owner)
    log_in(elsewhere, owner)
    this_session = here.cookies["sessionid"].value

    response = here.post(
        reverse("accounts:password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "a brand new passphrase",
            "new_password2": "a brand new passphrase",
        },
    )

    assert response.url == LOGIN
    assert not SessionStore().exists(this_session)
    assert here.get(DASHBOARD).status_code == 302
    assert elsewhere.get(DASHBOARD).status_code == 302


def test_password_reset_ends_every_session(client, owner, mailoutbox):
    signed_in = Client()
    log_in(signed_in, owner)

    client.post(reverse("accounts:password_reset"), {"email": owner.email})
    link = mailoutbox[0].body.split("http://testserver", 1)[1].split()[0]
    form_url = client.get(link).url
    client.post(
        form_url,
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )

    assert signed_in.get(DASHBOARD).status_code == 302


def test_a_save_from_an_older_copy_does_not_bring_ended_sessions_back(client, owner):
    log_in(client, owner)
    copy = type(owner).objects.get(id=owner.id)  # a settings form's, say, read before
    type(owner).objects.filter(id=owner.id).update(session_stamp="ended-every-session")
    assert client.get(DASHBOARD).status_code == 302  # signed out

    copy.time_zone = "Europe/Berlin"
    copy.save()  # the form commits after the stamp changed

    saved = type(owner).objects.get(id=owner.id)
    assert (saved.time_zone, saved.session_stamp) == ("Europe/Berlin", "ended-every-session")
    deferred = type(owner).objects.only("id", "email").get(id=owner.id)
    deferred.email = "renamed@example.com"
    deferred.save()  # deferred fields are left out, as Django leaves them
    assert type(owner).objects.get(id=owner.id).time_zone == "Europe/Berlin"
