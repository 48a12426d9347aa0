"""An iCal link is read-only: the provider keeps the contract's refusing defaults for the user's
own events, and sends nothing anywhere when asked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.base import ActionRefused, EditScope, EventDraft, Response
from integrations.ics.provider import FEED_ID, ICSProvider

# Never fetched: every refusal comes before any request.
FEED_URL = "https://calendar.example.com/feed.ics"
DRAFT = EventDraft(
    title="Planning",
    start=datetime(2030, 1, 10, 9, tzinfo=UTC),
    end=datetime(2030, 1, 10, 10, tzinfo=UTC),
)


def test_an_ical_link_offers_no_actions_on_its_events():
    assert ICSProvider(FEED_URL).event_actions() is None


@pytest.mark.parametrize(
    "attempt",
    [
        lambda provider: provider.get_event(FEED_ID, "event-1"),
        lambda provider: provider.create_event(FEED_ID, DRAFT),
        lambda provider: provider.update_event(FEED_ID, "event-1", DRAFT),
        lambda provider: provider.update_event(FEED_ID, "event-1", DRAFT, scope=EditScope.ALL),
        lambda provider: provider.remove_event(FEED_ID, "event-1"),
        lambda provider: provider.remove_event(FEED_ID, "event-1", scope=EditScope.FOLLOWING),
        lambda provider: provider.reply(FEED_ID, "event-1", Response.ACCEPTED),
    ],
    ids=["get", "create", "update", "update-all", "remove", "remove-following", "reply"],
)
def test_every_change_to_an_ical_links_events_is_refused_without_a_request(attempt, monkeypatch):
    provider = ICSProvider(FEED_URL)

    def no_fetch(*args: object, **kwargs: object) -> None:
        raise AssertionError("an iCal link is never fetched to refuse a change")

    monkeypatch.setattr(provider, "_fetch", no_fetch)

    with pytest.raises(ActionRefused) as refused:
        attempt(provider)

    assert not refused.value.permanent
