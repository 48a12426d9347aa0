"""Single sign-on through an organization's own issuer, end to end: our pages, the real OpenID
Connect client, and a local provider that behaves as Entra ID, Google and Okta do. Who it opens,
who it refuses, and the doors it closes when the organization requires it."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import AuditLog, User
from multical.lib import oidc
from orgs import sso
from orgs.models import Domain, Membership, OrgEvent, SsoIdentity, SsoProvider
from orgs.services import membership_remove, organization_create
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fakes.oidc import FakeOIDCProvider, running_oidc_provider

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/orgs/sso/callback/"


@pytest.fixture
def idp() -> FakeOIDCProvider:
    with running_oidc_provider(redirect_uris={CALLBACK}) as fake:
        yield fake


@pytest.fixture
def org(owner):
    organization = organization_create(user=owner, name="Example Org", ip_address=None)
    Domain.objects.create(
        organization=organization, name="example.org", token="t", verified_at=timezone.now()
    )
    return organization


@pytest.fixture
def provider(org, owner, idp):
    return sso.provider_save(
        membership=Membership.objects.get(organization=org, user=owner),
        issuer=idp.issuer,
        client_id=idp.client_id,
        client_secret=idp.client_secret,
        enabled=True,
        required=False,
        ip_address=None,
    )


def through_the_issuer(client: Client, response) -> object:
    """Follow our redirect to the issuer as a browser would, and come back to our callback."""
    assert response.status_code == 302, response.content
    answer = httpx.get(response["Location"], follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return client.get(f"{back.path}?{back.query}")


def start(client: Client, email: str = "ada@example.org", next_url: str = "") -> object:
    return client.post(reverse("console:sso_sign_in"), {"email": email, "next": next_url})


def signed_in_as(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)


def test_a_member_of_the_domain_signs_in_joins_and_is_linked_by_subject(provider, idp, org):
    ada = UserFactory(email="ada@example.org")
    client = Client()

    response = through_the_issuer(client, start(client, next_url="/calendars/"))

    assert response.status_code == 302
    assert response["Location"] == "/calendars/"
    assert signed_in_as(client) == str(ada.pk)
    assert Membership.objects.filter(organization=org, user=ada, role="member").exists()
    identity = SsoIdentity.objects.get(user=ada)
    assert (identity.issuer, identity.subject) == (idp.issuer, idp.users[0].sub)
    assert OrgEvent.objects.filter(
        organization=org, action=OrgEvent.Action.SSO_SIGN_IN, actor=ada
    ).exists()
    login = AuditLog.objects.filter(user=ada, action=AuditLog.Action.LOGIN).latest("id")
    assert login.metadata["method"] == "sso"


def test_a_removed_member_still_signs_in_but_is_not_brought_back(provider, idp, org, owner):
    ada = UserFactory(email="ada@example.org")
    client = Client()
    through_the_issuer(client, start(client))
    membership_remove(
        membership=Membership.objects.get(organization=org, user=owner),
        target=Membership.objects.get(organization=org, user=ada),
        ip_address=None,
    )

    again = Client()
    through_the_issuer(again, start(again))

    assert signed_in_as(again) == str(ada.pk)
    assert not Membership.objects.filter(organization=org, user=ada).exists()


def test_the_login_hint_is_the_address_typed(provider, idp):
    client = Client()
    response = start(client)

    assert "login_hint=ada%40example.org" in response["Location"]


def test_the_subject_not_the_address_finds_the_account_later(provider, idp):
    ada = UserFactory(email="ada@example.org")
    client = Client()
    through_the_issuer(client, start(client))
    # The issuer renames her; the identity stays hers.
    idp.users[0].email = "ada.lovelace@example.org"

    again = Client()
    through_the_issuer(again, start(again))

    assert signed_in_as(again) == str(ada.pk)
    assert not User.objects.filter(email="ada.lovelace@example.org").exists()


def test_a_new_person_accepts_the_terms_and_becomes_a_verified_member(provider, idp, org):
    client = Client()

    response = through_the_issuer(client, start(client))

    assert response["Location"] == reverse("console:sso_sign_up")
    assert not User.objects.filter(email="ada@example.org").exists()
    page = client.get(reverse("console:sso_sign_up"))
    assert "ada@example.org" in page.content.decode()

    client.post(
        reverse("console:sso_sign_up"),
        {"accept_legal": "on", "time_zone": "Europe/Berlin"},
    )

    ada = User.objects.get(email="ada@example.org")
    assert ada.email_verified and not ada.has_usable_password()
    assert signed_in_as(client) == str(ada.pk)
    assert Membership.objects.filter(organization=org, user=ada).exists()
    assert SsoIdentity.objects.filter(user=ada, subject=idp.users[0].sub).exists()


def test_the_sign_up_step_without_terms_is_a_field_error_and_creates_nothing(provider, idp):
    client = Client()
    through_the_issuer(client, start(client))

    page = client.post(reverse("console:sso_sign_up"), {"time_zone": "Europe/Berlin"})

    assert page.status_code == 200
    assert "errorlist" in page.content.decode()
    assert not User.objects.filter(email="ada@example.org").exists()


def test_an_address_outside_the_verified_domains_is_refused(provider, idp):
    # The organization's issuer cannot vouch for anyone else's address.
    victim = UserFactory(email="victim@gmail.example")
    idp.signed_in = idp.add_user("victim@gmail.example", "Victim")
    client = Client()

    response = through_the_issuer(client, start(client))

    assert response.status_code == 403
    assert "outside the organization" in response.content.decode()
    assert signed_in_as(client) is None
    assert not SsoIdentity.objects.filter(user=victim).exists()


def test_an_address_the_issuer_did_not_verify_is_refused(provider, idp):
    UserFactory(email="bob@example.org")
    idp.signed_in = idp.add_user("bob@example.org", "Bob", email_verified=False)
    client = Client()

    response = through_the_issuer(client, start(client, "bob@example.org"))

    assert response.status_code == 403
    assert signed_in_as(client) is None


def test_entra_vouches_through_xms_edov(provider, idp):
    grace = UserFactory(email="grace@example.org")
    idp.signed_in = idp.add_user("grace@example.org", "Grace", email_verified=None, xms_edov=True)
    client = Client()

    through_the_issuer(client, start(client, "grace@example.org"))

    assert signed_in_as(client) == str(grace.pk)


@pytest.mark.parametrize(
    "tamper", ["wrong_audience", "wrong_nonce", "expired", "unpublished_key", "wrong_issuer"]
)
def test_a_bad_id_token_is_refused_and_signs_nobody_in(provider, idp, tamper):
    UserFactory(email="ada@example.org")
    idp.tamper(**{tamper: True})
    client = Client()

    response = through_the_issuer(client, start(client))

    assert response.status_code == 400
    assert signed_in_as(client) is None
    assert not SsoIdentity.objects.exists()


def test_rotated_keys_are_fetched_again_and_still_sign_in(provider, idp):
    ada = UserFactory(email="ada@example.org")
    first = Client()
    through_the_issuer(first, start(first))
    idp.rotate_keys()

    second = Client()
    through_the_issuer(second, start(second))

    assert signed_in_as(second) == str(ada.pk)


def test_a_callback_serves_once(provider, idp):
    UserFactory(email="ada@example.org")
    client = Client()
    answer = httpx.get(start(client)["Location"], follow_redirects=False)
    back = urlsplit(answer.headers["location"])
    client.get(f"{back.path}?{back.query}")
    client.logout()

    replayed = client.get(f"{back.path}?{back.query}")

    assert replayed.status_code == 400
    assert signed_in_as(client) is None


def test_a_callback_nobody_started_is_refused(provider, idp):
    response = Client().get(reverse("console:sso_callback"), {"code": "x", "state": "y"})

    assert response.status_code == 400


def test_refusing_consent_at_the_issuer_is_said_plainly(provider, idp):
    idp.deny_consent = True
    client = Client()

    response = through_the_issuer(client, start(client))

    assert response.status_code == 200
    assert "You did not allow the sign-in." in response.content.decode()
    assert signed_in_as(client) is None


def test_an_address_no_organization_signs_in_is_a_field_error(provider):
    response = start(Client(), "someone@elsewhere.example")

    assert response.status_code == 200
    assert "No organization signs in this address" in response.content.decode()


def test_an_identity_linked_through_another_organization_is_refused(provider, idp, owner):
    other = organization_create(user=owner, name="Other", ip_address=None)
    ada = UserFactory(email="ada@example.org")
    SsoIdentity.objects.create(
        user=ada, organization=other, issuer=idp.issuer, subject=idp.users[0].sub
    )
    client = Client()

    response = through_the_issuer(client, start(client))

    assert response.status_code == 403
    assert signed_in_as(client) is None


# --- requiring it --------------------------------------------------------------------------------


@pytest.fixture
def required(provider):
    SsoProvider.objects.filter(pk=provider.pk).update(required=True)


def test_required_sso_closes_the_password_door_for_the_domain(required, provider):
    UserFactory(email="ada@example.org")
    client = Client()

    response = client.post(
        reverse("accounts:login"), {"username": "ada@example.org", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("console:sso_sign_in") + "?email=ada%40example.org"
    assert signed_in_as(client) is None
    page = client.get(response["Location"])
    assert 'value="ada@example.org"' in page.content.decode()
    assert "Example Org asks you to sign in" in page.content.decode()


def test_required_sso_leaves_other_addresses_alone(required, owner):
    client = Client()

    client.post(reverse("accounts:login"), {"username": owner.email, "password": DEFAULT_PASSWORD})

    assert signed_in_as(client) == str(owner.pk)


def test_required_sso_still_lets_the_issuer_in(required, provider, idp):
    ada = UserFactory(email="ada@example.org")
    client = Client()

    through_the_issuer(client, start(client))

    assert signed_in_as(client) == str(ada.pk)


# --- the admin's page ----------------------------------------------------------------------------


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_sets_the_issuer_and_the_secret_is_sealed(org, owner, idp):
    response = admin_client(owner).post(
        reverse("console:sso_settings", args=[org.id]),
        {
            "issuer": idp.issuer,
            "client_id": idp.client_id,
            "client_secret": idp.client_secret,
            "enabled": "on",
        },
    )

    assert response.status_code == 302
    stored = SsoProvider.objects.get(organization=org)
    assert stored.enabled and stored.client_id == idp.client_id
    assert idp.client_secret not in stored.client_secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM orgs_ssoprovider")
        assert idp.client_secret not in cursor.fetchone()[0]
    assert sso.client_for(stored).client_secret == idp.client_secret
    assert OrgEvent.objects.filter(organization=org, action=OrgEvent.Action.SSO_CHANGED).exists()


def test_an_empty_secret_keeps_the_stored_one(provider, org, owner, idp):
    admin_client(owner).post(
        reverse("console:sso_settings", args=[org.id]),
        {"issuer": idp.issuer, "client_id": "renamed-client", "client_secret": "", "enabled": "on"},
    )

    stored = SsoProvider.objects.get(organization=org)
    assert stored.client_id == "renamed-client"
    assert sso.client_for(stored).client_secret == idp.client_secret


def test_an_issuer_that_does_not_answer_is_a_field_error(org, owner, idp):
    page = admin_client(owner).post(
        reverse("console:sso_settings", args=[org.id]),
        {"issuer": idp.base_url + "/nobody/v2.0", "client_id": "c", "client_secret": "s"},
    )

    assert page.status_code == 200
    assert escape(oidc.REASONS["discovery_failed"]) in page.content.decode()
    assert not SsoProvider.objects.exists()


def test_requiring_it_needs_it_on(org, owner, idp):
    page = admin_client(owner).post(
        reverse("console:sso_settings", args=[org.id]),
        {"issuer": idp.issuer, "client_id": "c", "client_secret": "s", "required": "on"},
    )

    assert page.status_code == 200
    assert "must be on before it can be required" in page.content.decode()


def test_a_member_does_not_reach_the_settings(org, idp):
    member = UserFactory()
    Membership.objects.create(organization=org, user=member)

    response = admin_client(member).get(reverse("console:sso_settings", args=[org.id]))

    assert response.status_code == 404


def test_an_organization_whose_sso_is_off_signs_nobody_in(provider, idp):
    SsoProvider.objects.filter(pk=provider.pk).update(enabled=False)

    response = start(Client())

    assert response.status_code == 200
    assert "No organization signs in this address" in response.content.decode()
