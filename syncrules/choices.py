"""The settings of a rule that take one of a few values, defined once: the model stores them, the
forms and pages show their labels, and the planner (which imports no Django) decides by them."""

from __future__ import annotations

from integrations.choices import Choice


class Visibility(Choice):
    """What of the source event a block shows."""

    BUSY = "busy", "Busy only"
    TITLE = "title", "Title only"
    FULL = "full", "Full details"


class Handling(Choice):
    """How a kind of event (tentative, all-day) is copied."""

    BUSY = "busy", "Block as busy"
    FREE = "free", "Block as free"
    SKIP = "skip", "Don't copy"


# All-day events are not copied unless asked for: the form lists that first.
ALL_DAY_CHOICES = [
    (member.value, member.label) for member in (Handling.SKIP, Handling.BUSY, Handling.FREE)
]


class ShowAs(Choice):
    """Whether a block shows as busy or free in its calendar."""

    BUSY = "busy", "Always busy"
    FREE = "free", "Always free"
    SOURCE = "source", "Same as the source event"
