"""What the member table says of each member: counts, states and their last activity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from calendars.models import Calendar, Connection
from console.selectors import member_states
from orgs.models import Membership, Role
from orgs.selectors import members_of
from orgs.services import organization_create
from tests.factories import ConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 30, 9, tzinfo=UTC)
FRIDAY = datetime(2026, 12, 4, 17, tzinfo=UTC)


@pytest.fixture
def org(owner):
    return organization_create(user=owner, name="Acme", ip_address=None)


def join(org, **user):
    person = UserFactory(**user)
    Membership.objects.create(organization=org, user=person, role=Role.MEMBER)
    return person


def synced(person, at, *, status=Connection.Status.OK):
    connection = ConnectionFactory(user=person, status=status)
    return Calendar.objects.create(
        connection=connection, remote_id=f"c-{at}", name="Private", last_synced_at=at
    )


def state_of(org, owner, person):
    membership = Membership.objects.get(organization=org, user=owner)
    return next(
        s for s in member_states(members_of(membership)) if s.membership.user_id == person.id
    )


def test_last_activity_is_the_later_of_the_last_sign_in_and_the_last_sync(org, owner):
    person = join(org, last_login=MONDAY)
    synced(person, FRIDAY)

    assert state_of(org, owner, person).last_active == FRIDAY


def test_a_sign_in_after_the_last_sync_counts(org, owner):
    person = join(org, last_login=FRIDAY)
    synced(person, MONDAY)

    assert state_of(org, owner, person).last_active == FRIDAY


def test_a_disconnected_account_syncing_no_more_does_not_count(org, owner):
    person = join(org, last_login=MONDAY)
    synced(person, FRIDAY, status=Connection.Status.DISCONNECTED)

    assert state_of(org, owner, person).last_active == MONDAY


def test_someone_who_never_signed_in_nor_synced_has_none(org, owner):
    person = join(org, last_login=None)

    assert state_of(org, owner, person).last_active is None


def test_the_whole_table_takes_four_queries(org, owner):
    for day in range(5):
        synced(join(org, last_login=MONDAY), FRIDAY.replace(day=day + 1))
    membership = Membership.objects.get(organization=org, user=owner)
    members = list(members_of(membership))

    with CaptureQueriesContext(db_connection) as queries:
        states = member_states(members)

    assert len(states) == 6
    assert len(queries) == 4
