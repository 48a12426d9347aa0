"""Team pages and the organization's list of them, kept a minute for visitors who bring nothing:
served without the database, and retired at once by whatever changes them, however it is written
(the services, the Django admin, a cascade), down to the organization's deletion."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from booking.models import Profile, TeamPage, TeamPageMember
from orgs.services import organization_delete
from tests.booking.team_world import make_team
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_rate_limits")]


def test_a_deleted_organizations_pages_are_gone_at_once_though_kept(
    radicale_server, django_capture_on_commit_callbacks
):
    team = make_team(radicale_server, handle="vanishing")
    page = team.page(TeamPage.Kind.COLLECTIVE)
    visitor = Client()
    for _ in range(2):  # the first visit writes the address's entry, the second keeps the page
        assert visitor.get(f"/book/vanishing/{page.slug}/").status_code == 200
    with CaptureQueriesContext(connection) as queries:  # kept: no page or member is read
        assert visitor.get(f"/book/vanishing/{page.slug}/").status_code == 200
    assert not [query for query in queries if "booking_teampage" in query["sql"]]

    with django_capture_on_commit_callbacks(execute=True):
        organization_delete(membership=team.admin)

    assert visitor.get(f"/book/vanishing/{page.slug}/").status_code == 404
    assert visitor.get("/book/vanishing/").status_code == 404
    person = UserFactory()
    Profile.objects.create(user=person, handle="vanishing", display_name="Newcomer")
    assert "Newcomer" in visitor.get("/book/vanishing/").text


def kept(url: str) -> str:
    """The page once kept, served without reading any team page."""
    visitor = Client()
    for _ in range(2):  # the first visit writes the address's entry, the second keeps the page
        assert visitor.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = visitor.get(url)
    assert response.status_code == 200
    assert not [query for query in queries if "booking_teampage" in query["sql"]]
    return response.text


def test_the_kept_list_follows_the_organization_and_its_pages_at_once(
    radicale_server, django_capture_on_commit_callbacks
):
    team = make_team(radicale_server, handle="listing")
    page = team.page(title="Sales demo")
    assert "Sales demo" in kept("/book/listing/")

    with django_capture_on_commit_callbacks(execute=True):  # as the Django admin writes them
        TeamPage.objects.filter(id=page.id).get().save()  # nothing changed: kept anew
        page.title = "Product tour"
        page.save()
    assert "Product tour" in kept("/book/listing/")

    with django_capture_on_commit_callbacks(execute=True):
        team.organization.name = "Acme & Sons"
        team.organization.save()
    assert "Acme &amp; Sons" in kept("/book/listing/")

    with django_capture_on_commit_callbacks(execute=True):
        TeamPageMember.objects.filter(page=page, user=team.users[2]).delete()
    assert "Person 2" not in kept("/book/listing/")
