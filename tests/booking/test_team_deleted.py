"""An organization deleted: its public team pages, kept for visitors a minute, go at once, and its
handle is free for anyone."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from booking.models import Profile, TeamPage
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
