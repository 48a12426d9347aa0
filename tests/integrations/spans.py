"""Comparing busy time by its times, apart from the ids of the events behind each span."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from integrations.base import Interval


def times_of(spans: Iterable[Interval]) -> list[Interval]:
    """The spans with their event ids left out, in their order."""
    return [replace(span, event_id="") for span in spans]


def each_names_its_event(spans: Iterable[Interval]) -> bool:
    """Every span carries the id of an event, and no two spans the same one."""
    ids = [span.event_id for span in spans]
    return all(ids) and len(set(ids)) == len(ids)
