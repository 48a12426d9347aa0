"""The Microsoft admin-consent page: the link an organization's admins hand to their tenant's
administrator, and exactly the scopes it approves."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from integrations import scopes
from multical import permissions
from orgs.models import Membership, Policy, Role
from orgs.services import organization_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CLIENT_ID = "00001111-aaaa-2222-bbbb-3333cccc4444"


@pytest.fixture(autouse=True)
def microsoft_app(settings):
    settings.MICROSOFT_CLIENT_ID = CLIENT_ID
    settings.MICROSOFT_CLIENT_SECRET = "secret"


@pytest.fixture
def org(owner):
    return organization_create(user=owner, name="Acme", ip_address=None)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(org, **query):
    return reverse("console:admin_microsoft_consent", args=[org.id]), query


def the_link(response) -> str:
    return response.context["link"]


def consent(client, org, **query):
    path, params = page(org, **query)
    return client.get(path, params)


def test_the_link_names_any_tenant_until_the_admin_types_theirs(org, owner):
    response = consent(signed_in(owner), org)

    link = urlsplit(the_link(response))
    assert response.status_code == 200
    assert f"{link.scheme}://{link.netloc}{link.path}" == permissions.ADMIN_CONSENT_URL
    query = parse_qs(link.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://testserver" + reverse("permissions")]


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("  Contoso.OnMicrosoft.com ", "contoso.onmicrosoft.com"),
        ("72F988BF-86F1-41AF-91AB-2D7CD011DB47", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("organizations", "organizations"),
    ],
)
def test_a_tenant_id_or_domain_goes_into_the_path(org, owner, typed, named):
    link = urlsplit(the_link(consent(signed_in(owner), org, tenant=typed)))

    assert link.path == f"/{named}/v2.0/adminconsent"


@pytest.mark.parametrize(
    "typed", ["common", "consumers", "contoso", "evil.com/../x", "a b.com", "", "x" * 254]
)
def test_anything_else_is_a_field_error_and_no_link(org, owner, typed):
    response = consent(signed_in(owner), org, tenant=typed)

    assert response.status_code == 200
    assert response.context["form"].errors["tenant"]
    assert the_link(response) == ""
    assert "adminconsent" not in response.content.decode()


def test_the_link_asks_for_every_microsoft_scope_the_product_requests(org, owner):
    query = parse_qs(urlsplit(the_link(consent(signed_in(owner), org))).query)

    asked = set(query["scope"][0].split(" "))
    assert asked == set(
        parse_qs(urlsplit(permissions.admin_consent_url()).query)["scope"][0].split(" ")
    )
    assert "https://graph.microsoft.com/Calendars.ReadWrite" in asked
    assert "openid" in asked


def test_the_page_lists_each_scope_with_its_reason(org, owner):
    body = consent(signed_in(owner), org).content.decode()

    for flow in permissions.flows()["microsoft"]:
        for scope in flow.scopes:
            assert f'data-scope="{scope.name}"' in body
    assert scopes.MICROSOFT_CALENDAR_CONNECTION[0].reason in body


def test_a_policy_without_microsoft_calendars_leaves_their_scopes_out(org, owner):
    Policy.objects.create(organization=org, allowed_kinds=["google", "icloud"])

    response = consent(signed_in(owner), org)

    asked = parse_qs(urlsplit(the_link(response)).query)["scope"][0].split(" ")
    assert "https://graph.microsoft.com/Calendars.ReadWrite" not in asked
    assert "https://graph.microsoft.com/User.Read" not in asked
    assert sorted(asked) == sorted(
        scope.name for scope in permissions.microsoft_requested(scopes.MICROSOFT_SIGN_IN)
    )
    assert [flow.key for flow in response.context["flows"]] == ["microsoft-sign-in"]
    assert response.context["narrowed"]


def test_a_policy_that_allows_microsoft_keeps_every_scope(org, owner):
    Policy.objects.create(organization=org, allowed_kinds=["microsoft"])

    response = consent(signed_in(owner), org)

    assert len(response.context["flows"]) == 2
    assert not response.context["narrowed"]


def test_without_a_microsoft_app_there_is_no_link(org, owner, settings):
    settings.MICROSOFT_CLIENT_ID = ""

    response = consent(signed_in(owner), org)

    assert response.status_code == 200
    assert the_link(response) == ""
    assert "not set up to connect Microsoft accounts" in response.content.decode()


def test_admins_see_it_in_the_tabs_and_members_get_404(org, owner):
    admin, member = UserFactory(), UserFactory()
    Membership.objects.create(organization=org, user=admin, role=Role.ADMIN)
    Membership.objects.create(organization=org, user=member, role=Role.MEMBER)
    path, _query = page(org)

    tabs = signed_in(admin).get(reverse("console:organization", args=[org.id])).content.decode()
    assert path in tabs
    assert consent(signed_in(admin), org).status_code == 200
    assert consent(signed_in(member), org).status_code == 404
    assert (
        path
        not in signed_in(member)
        .get(reverse("console:organization", args=[org.id]))
        .content.decode()
    )


def test_an_outsider_gets_404(org, outsider):
    assert consent(signed_in(outsider), org).status_code == 404
