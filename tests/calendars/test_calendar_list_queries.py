"""The Calendars page and the status it polls every few seconds while syncs run: their database
queries do not grow with the number of accounts and calendars."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from syncrules.models import SyncRule
from tests.factories import CalendarFactory, ConnectionFactory

pytestmark = pytest.mark.django_db

LIST = reverse("calendars:calendar_list")
STATUS = reverse("calendars:calendar_list_status")


def add_accounts(owner, accounts: int, calendars: int) -> None:
    """``accounts`` accounts of ``calendars`` calendars each, every calendar in a rule."""
    for number in range(accounts):
        account = ConnectionFactory(user=owner, label=f"account {number}")
        made = [CalendarFactory(connection=account, name=f"{number}.{c}") for c in range(calendars)]
        rule = SyncRule.objects.create(user=owner, name=f"Rule {number}", enabled=True)
        rule.sources.set(made[:1])
        rule.targets.set(made[1:])


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", [STATUS, LIST], ids=["status poll", "page"])
def test_queries_do_not_grow_with_accounts_and_calendars(owner, owner_client, url):
    add_accounts(owner, accounts=1, calendars=2)
    queries(owner_client, url)  # the session and the first look are settled once
    few = queries(owner_client, url)

    add_accounts(owner, accounts=4, calendars=5)
    queries(owner_client, url)  # the new accounts' first look, once
    many = queries(owner_client, url)

    assert many == few, f"{few} queries for 2 calendars, {many} for 22"
