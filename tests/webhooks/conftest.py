from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhooks.receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, float | None]]:
    """Deliveries sent to the broker, recorded instead: (delivery id, countdown)."""
    from webhooks.tasks import deliver_webhook

    sent: list[tuple[str, float | None]] = []
    monkeypatch.setattr(
        deliver_webhook, "delay", lambda delivery_id: sent.append((delivery_id, None))
    )
    monkeypatch.setattr(
        deliver_webhook,
        "apply_async",
        lambda args, countdown=None, **options: sent.append((args[0], countdown)),
    )
    return sent
