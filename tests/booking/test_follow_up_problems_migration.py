"""A follow-up error kept as English words, from before problems were kept with their values, is
still shown after the upgrade (as it was written), and comes back when the migration is reversed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from booking.models import problem_text
from tests.factories import UserFactory
from tests.migration_steps import at_schema, migrate

BEFORE = [("booking", "0007_profile_picture")]
AFTER = [("booking", "0008_follow_up_problems")]
OLD_WORDS = "The event in work was not written: The server refused the user name or password."


@pytest.fixture
def at_the_old_schema():
    yield from at_schema(BEFORE)


def make_booking(apps, **fields):
    # The user through today's model: the historical one lacks columns added since.
    user = UserFactory()
    start = datetime(2030, 5, 6, 9, tzinfo=UTC)
    return apps.get_model("booking", "Booking").objects.create(
        owner_id=user.pk,
        title="Intro call",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_name="Grace",
        attendee_email="grace@attendee.example",
        location="phone",
        submission_key=uuid.uuid4().hex,
        **fields,
    )


@pytest.mark.django_db(transaction=True)
def test_old_follow_up_words_become_one_problem_shown_as_written_and_back(at_the_old_schema):
    troubled = make_booking(at_the_old_schema, follow_up_error=OLD_WORDS)
    fine = make_booking(at_the_old_schema)

    new = migrate(AFTER)

    Booking = new.get_model("booking", "Booking")
    (problem,) = Booking.objects.get(id=troubled.id).follow_up_problems
    assert problem_text(problem) == OLD_WORDS
    assert Booking.objects.get(id=fine.id).follow_up_problems == []

    old = migrate(BEFORE)

    Booking = old.get_model("booking", "Booking")
    assert Booking.objects.get(id=troubled.id).follow_up_error == OLD_WORDS
    assert Booking.objects.get(id=fine.id).follow_up_error == ""
