"""Single sign-on through an organization's own issuer, end to end: our pages, the real OpenID
Connect client, and a local provider that behaves as Entra ID, Google and Okta do. Who it opens,
who it refuses, and the doors it closes when the organization requires it."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import AuditLog, User
from accounts.sign_in import door_check
from multical.lib import oidc
from orgs import sso
from orgs.domains import CheckOutcome, domain_add, domain_check, record_value
from orgs.models import Domain, Membership, OrgEvent, SsoIdentity, SsoProvider
from orgs.services import membership_remove, organization_create
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.fakes.oidc import FakeOIDCProvider, running_oidc_provider
from tests.orgs.dns_zone import install

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


# --- requiring it ends the sessions it covers ----------------------------------------------------


def password_client(user) -> Client:
    """A browser signed in through the password door, as the person would be."""
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302 and signed_in_as(client) == str(user.pk)
    return client


def still_signed_in(client: Client) -> bool:
    """Whether the browser's next request is served signed in (not sent to the log-in page)."""
    response = client.get(reverse("console:organization_list"))
    return response.status_code == 200


def require(org, owner, idp, **extra) -> object:
    return admin_client(owner).post(
        reverse("console:sso_settings", args=[org.id]),
        {
            "issuer": idp.issuer,
            "client_id": idp.client_id,
            "enabled": "on",
            "required": "on",
            **extra,
        },
    )


def test_requiring_it_signs_out_the_domains_people_signed_in_another_way(provider, idp, org, owner):
    ada = UserFactory(email="ada@example.org")
    Membership.objects.create(organization=org, user=ada)
    outsider = UserFactory(email="bob@elsewhere.example")
    ada_browser, outsider_browser = password_client(ada), password_client(outsider)

    response = require(org, owner, idp)

    assert response.status_code == 302
    assert not still_signed_in(ada_browser)
    assert still_signed_in(outsider_browser)
    assert still_signed_in(admin_client(owner))
    event = OrgEvent.objects.get(organization=org, action=OrgEvent.Action.SSO_SIGNED_OUT)
    assert (event.actor, event.subject) == (owner, "example.org")
    # And the password door stays shut: back only through the issuer.
    again = Client().post(
        reverse("accounts:login"), {"username": ada.email, "password": DEFAULT_PASSWORD}
    )
    assert again["Location"].startswith(reverse("console:sso_sign_in"))


def test_a_person_of_the_domain_who_is_no_member_is_signed_out_too(provider, idp, org, owner):
    # The rule covers addresses, not memberships: the door would send them to the issuer as well.
    grace = UserFactory(email="grace@example.org")
    browser = password_client(grace)

    require(org, owner, idp)

    assert not still_signed_in(browser)


def test_single_sign_on_sessions_end_too_and_come_back_through_the_issuer(
    provider, idp, org, owner
):
    ada = UserFactory(email="ada@example.org")
    browser = Client()
    through_the_issuer(browser, start(browser))
    assert still_signed_in(browser)

    require(org, owner, idp)

    assert not still_signed_in(browser)
    through_the_issuer(browser, start(browser))
    assert signed_in_as(browser) == str(ada.pk) and still_signed_in(browser)


def test_the_settings_say_that_requiring_it_signs_people_out(org, owner):
    page = admin_client(owner).get(reverse("console:sso_settings", args=[org.id]))

    assert "Switching it on signs out everyone with such an address" in page.content.decode()


def test_saving_again_while_required_signs_nobody_out(required, provider, idp, org, owner):
    ada = UserFactory(email="ada@example.org")
    browser = Client()
    through_the_issuer(browser, start(browser))

    require(org, owner, idp)

    assert still_signed_in(browser)
    assert not OrgEvent.objects.filter(action=OrgEvent.Action.SSO_SIGNED_OUT).exists()
    assert signed_in_as(browser) == str(ada.pk)


def test_a_sign_in_whose_door_opened_just_before_the_switch_is_ended(provider, idp, org, owner):
    # The race: the password door checked the rule, then the admin's switch committed, then the
    # session was opened. The session is made with the account as it was read before the switch.
    ada = UserFactory(email="ada@example.org")

    def switch_meanwhile(sender, **kwargs):
        sso.provider_save(
            membership=Membership.objects.get(organization=org, user=owner),
            issuer=idp.issuer,
            client_id=idp.client_id,
            client_secret=None,
            enabled=True,
            required=True,
            ip_address=None,
        )

    # Connected after orgs.sso's own receiver, which has answered by the time this one runs.
    door_check.connect(switch_meanwhile, dispatch_uid="test-switch-meanwhile")
    try:
        browser = password_client(ada)
    finally:
        door_check.disconnect(dispatch_uid="test-switch-meanwhile")

    assert SsoProvider.objects.get(organization=org).required
    assert not still_signed_in(browser)


def test_verifying_a_domain_while_required_signs_out_its_people(
    required, provider, org, owner, settings
):
    zone = install(settings)
    grace = UserFactory(email="grace@example.net")
    ada = UserFactory(email="ada@example.org")
    grace_browser, stranger = password_client(grace), Client()
    stranger.force_login(ada)  # a session of the covered domain opened before this test's rule
    admin = Membership.objects.get(organization=org, user=owner)
    domain = domain_add(membership=admin, name="example.net", ip_address=None)
    zone.publish(domain.name, record_value(domain))

    assert domain_check(membership=admin, domain=domain, ip_address=None) == CheckOutcome.VERIFIED

    assert not still_signed_in(grace_browser)
    # Only the domain just verified: example.org's people were signed out when it was required.
    assert still_signed_in(stranger)
    event = OrgEvent.objects.get(organization=org, action=OrgEvent.Action.SSO_SIGNED_OUT)
    assert event.subject == "example.net"


def test_an_admin_of_the_domain_signed_in_another_way_cannot_require_it(provider, idp, org):
    # Requiring it would sign them out with no way back should the issuer not work for them.
    ada = UserFactory(email="ada@example.org")
    Membership.objects.create(organization=org, user=ada, role="admin")
    browser = password_client(ada)

    page = browser.post(
        reverse("console:sso_settings", args=[org.id]),
        {"issuer": idp.issuer, "client_id": idp.client_id, "enabled": "on", "required": "on"},
    )

    assert page.status_code == 200
    assert "Sign in with single sign-on before you require it" in page.content.decode()
    assert not SsoProvider.objects.get(organization=org).required
    assert still_signed_in(browser)


def test_an_admin_signed_in_through_the_issuer_requires_it_and_stays_signed_in(provider, idp, org):
    ada = UserFactory(email="ada@example.org")
    Membership.objects.create(organization=org, user=ada, role="admin")
    elsewhere = password_client(ada)
    browser = Client()
    through_the_issuer(browser, start(browser))

    response = browser.post(
        reverse("console:sso_settings", args=[org.id]),
        {"issuer": idp.issuer, "client_id": idp.client_id, "enabled": "on", "required": "on"},
    )

    assert response.status_code == 302
    assert SsoProvider.objects.get(organization=org).required
    assert still_signed_in(browser)
    assert not still_signed_in(elsewhere)


# --- a multi-tenant issuer -----------------------------------------------------------------------

TENANT, OTHER_TENANT = (
    "3f0e8f4c-5a2b-4c57-9d1e-0b6a1f2e7c11",
    "c5b2e1d0-7f3a-4e8c-a6b9-2d4f1e0c8b57",
)


@pytest.fixture
def entra() -> FakeOIDCProvider:
    with running_oidc_provider(redirect_uris={CALLBACK}, multi_tenant=True) as fake:
        fake.home_tenant = TENANT
        yield fake


def save_issuer(org, owner, fake, **extra) -> object:
    return admin_client(owner).post(
        reverse("console:sso_settings", args=[org.id]),
        {
            "issuer": fake.issuer,
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "enabled": "on",
            **extra,
        },
    )


def test_a_multi_tenant_issuer_without_tenants_is_a_field_error(org, owner, entra):
    page = save_issuer(org, owner, entra)

    assert page.status_code == 200
    assert "list the IDs of the tenants" in page.content.decode()
    assert not SsoProvider.objects.exists()


@pytest.mark.parametrize("typed", ["contoso.onmicrosoft.com", "organizations", "3f0e8f4c-5a2b"])
def test_a_tenant_id_that_is_none_is_a_field_error(org, owner, entra, typed):
    page = save_issuer(org, owner, entra, tenants=typed)

    assert page.status_code == 200
    assert "is not a tenant ID" in page.content.decode()
    assert not SsoProvider.objects.exists()


def test_a_single_tenant_issuer_takes_no_tenants(org, owner, idp):
    page = save_issuer(org, owner, idp, tenants=TENANT)

    assert page.status_code == 200
    assert "leave the tenant IDs empty" in page.content.decode()


def test_an_admin_lists_tenants_and_their_people_sign_in(org, owner, entra):
    response = save_issuer(
        org, owner, entra, tenants=f"{TENANT.upper()},\n {OTHER_TENANT} {TENANT}"
    )
    assert response.status_code == 302
    assert SsoProvider.objects.get(organization=org).tenants == sorted([TENANT, OTHER_TENANT])
    ada = UserFactory(email="ada@example.org")
    browser = Client()

    through_the_issuer(browser, start(browser))

    assert signed_in_as(browser) == str(ada.pk)
    assert SsoIdentity.objects.get(user=ada).issuer == entra.tenant_issuer(TENANT)
    page = admin_client(owner).get(reverse("console:sso_settings", args=[org.id]))
    assert OTHER_TENANT in page.content.decode()


@pytest.fixture
def entra_provider(org, owner, entra):
    save_issuer(org, owner, entra, tenants=TENANT)
    return SsoProvider.objects.get(organization=org)


def test_a_person_of_a_tenant_not_listed_is_refused(entra_provider, entra):
    # Any Microsoft customer can make an account with an address of our domain in its tenant.
    eve = UserFactory(email="ada@example.org")
    entra.users[0].tenant = "d1b6c0a2-93f4-4b1e-8e7a-6c5d2f0a9b38"
    browser = Client()

    response = through_the_issuer(browser, start(browser))

    assert response.status_code == 400
    assert escape(oidc.REASONS["wrong_tenant"]) in response.content.decode()
    assert signed_in_as(browser) is None
    assert not SsoIdentity.objects.filter(user=eve).exists()


def test_a_token_whose_issuer_is_another_tenants_than_its_tid_is_refused(entra_provider, entra):
    UserFactory(email="ada@example.org")
    entra.tamper(other_tenants_issuer=True)
    browser = Client()

    response = through_the_issuer(browser, start(browser))

    assert response.status_code == 400
    assert signed_in_as(browser) is None
    assert not SsoIdentity.objects.exists()


# --- unlinking an identity -----------------------------------------------------------------------


@pytest.fixture
def linked(provider, idp):
    """Ada, signed in once through the organization's issuer: her identity."""
    UserFactory(email="ada@example.org")
    browser = Client()
    through_the_issuer(browser, start(browser))
    return SsoIdentity.objects.get(user__email="ada@example.org")


def unlink_url(org, identity) -> str:
    return reverse("console:sso_identity_unlink", args=[org.id, identity.public_id])


def test_an_admin_unlinks_a_persons_identity_after_confirming(linked, org, owner, idp):
    client = admin_client(owner)
    settings_page = client.get(reverse("console:sso_settings", args=[org.id])).content.decode()
    assert "ada@example.org" in settings_page and unlink_url(org, linked) in settings_page
    confirmation = client.get(unlink_url(org, linked))
    assert confirmation.status_code == 200
    assert "Unlink this person from single sign-on?" in confirmation.content.decode()
    assert SsoIdentity.objects.filter(pk=linked.pk).exists()

    response = client.post(unlink_url(org, linked))

    assert response.status_code == 302
    assert not SsoIdentity.objects.filter(pk=linked.pk).exists()
    event = OrgEvent.objects.get(organization=org, action=OrgEvent.Action.SSO_UNLINKED)
    assert (event.actor, event.subject) == (owner, "ada@example.org")
    # Her next sign-in links her again, through her verified address.
    browser = Client()
    through_the_issuer(browser, start(browser))
    assert SsoIdentity.objects.filter(user=linked.user, subject=linked.subject).exists()


def test_a_member_who_is_no_admin_gets_404_and_unlinks_nothing(linked, org):
    member = UserFactory()
    Membership.objects.create(organization=org, user=member)
    client = admin_client(member)

    assert client.get(unlink_url(org, linked)).status_code == 404
    assert client.post(unlink_url(org, linked)).status_code == 404
    assert SsoIdentity.objects.filter(pk=linked.pk).exists()


def test_another_organizations_admin_gets_404_for_the_identity(linked, org):
    stranger = UserFactory()
    theirs = organization_create(user=stranger, name="Theirs", ip_address=None)
    client = admin_client(stranger)

    for url in (
        unlink_url(org, linked),
        reverse("console:sso_identity_unlink", args=[theirs.id, linked.public_id]),
    ):
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    assert SsoIdentity.objects.filter(pk=linked.pk).exists()
    assert not OrgEvent.objects.filter(action=OrgEvent.Action.SSO_UNLINKED).exists()


def test_unlinking_needs_a_post_with_the_csrf_token(linked, org, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = client.post(unlink_url(org, linked))

    assert response.status_code == 403
    assert SsoIdentity.objects.filter(pk=linked.pk).exists()


# --- a person's own identities -------------------------------------------------------------------


def test_settings_lead_to_ones_own_identities(linked):
    client = admin_client(linked.user)
    settings_page = client.get(reverse("accounts:settings")).content.decode()
    assert reverse("console:sso_identities_mine") in settings_page

    page = client.get(reverse("console:sso_identities_mine")).content.decode()

    assert "Example Org" in page
    assert reverse("console:sso_identity_remove", args=[linked.public_id]) in page


def test_a_person_unlinks_their_own_identity(linked, org):
    client = admin_client(linked.user)

    response = client.post(reverse("console:sso_identity_remove", args=[linked.public_id]))

    assert response.status_code == 302
    assert not SsoIdentity.objects.filter(pk=linked.pk).exists()
    event = OrgEvent.objects.get(organization=org, action=OrgEvent.Action.SSO_UNLINKED)
    assert (event.actor, event.subject) == (linked.user, linked.user.email)


def test_someone_elses_identity_is_404_and_stays(linked, owner):
    # The owner is even an admin of the identity's organization: this page is for one's own.
    client = admin_client(owner)
    remove = reverse("console:sso_identity_remove", args=[linked.public_id])

    assert client.post(remove).status_code == 404
    assert client.get(remove).status_code == 405
    assert "Example Org" not in client.get(reverse("console:sso_identities_mine")).content.decode()
    assert SsoIdentity.objects.filter(pk=linked.pk).exists()


def test_own_identities_need_a_sign_in(linked):
    response = Client().post(reverse("console:sso_identity_remove", args=[linked.public_id]))

    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert SsoIdentity.objects.filter(pk=linked.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_domain_verified_while_sso_is_first_required_leaves_nobody_signed_in(owner, settings):
    """The race: an admin requires single sign-on (the issuer set up in the same save) while a
    domain's check verifies another domain. Whichever commits second must see the other's work:
    here the save is held open after reading the domains, and the verification must wait for it,
    then sign out the new domain's people."""
    zone = install(settings)
    org = organization_create(user=owner, name="Example Org", ip_address=None)
    Domain.objects.create(
        organization=org, name="example.org", token="t", verified_at=timezone.now()
    )
    admin = Membership.objects.select_related("organization", "user").get(user=owner)
    domain = domain_add(membership=admin, name="example.net", ip_address=None)
    zone.publish(domain.name, record_value(domain))
    grace = UserFactory(email="grace@example.net")
    stamp = grace.session_stamp
    saved, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def require_it() -> None:
        try:
            with transaction.atomic():
                sso.provider_save(
                    membership=admin,
                    issuer="https://login.example.com/tenant/v2.0",
                    client_id="c",
                    client_secret="s",
                    enabled=True,
                    required=True,
                    ip_address=None,
                )
                saved.set()
                release.wait(10)
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)
        finally:
            saved.set()
            connection.close()

    def verify() -> None:
        try:
            domain_check(membership=admin, domain=domain, ip_address=None)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    saving = threading.Thread(target=require_it)
    saving.start()
    assert saved.wait(10)
    verifying = threading.Thread(target=verify)
    verifying.start()
    verifying.join(0.5)  # it waits for the save's lock (without it, it would be done by now)
    release.set()
    saving.join(10)
    verifying.join(10)

    assert errors == []
    assert Domain.objects.get(pk=domain.pk).is_verified
    grace.refresh_from_db()
    assert grace.session_stamp != stamp
