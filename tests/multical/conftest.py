"""Fixtures of the project-level tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.multical.fake_sentry import FakeSentry, serve


@pytest.fixture
def fake_sentry() -> Iterator[FakeSentry]:
    """A Sentry ingestion endpoint on loopback that keeps the envelopes it receives."""
    fake, server = serve()
    yield fake
    server.shutdown()
    server.server_close()
