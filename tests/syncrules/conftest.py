import pytest

from tests.syncrules.rule_page_helpers import record_enqueues


@pytest.fixture
def enqueued(monkeypatch, db):
    """The syncs and clean-ups the code under test sends to the broker (recorded, not sent)."""
    recorder = record_enqueues(monkeypatch)
    yield recorder
    recorder.clean_up()
