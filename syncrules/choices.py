"""The settings of a rule that take one of a few values, defined once: the model stores them, the
forms and pages show their labels, and the planner (which imports no Django) decides by them."""

from __future__ import annotations

# The labels are marked without Django; the forms and pages translate them where they show them
# (``syncrules.forms.translated``, ``{% translate rule.get_visibility_display %}``).
from integrations.choices import Choice, gettext_noop


class Visibility(Choice):
    """What of the source event a block shows."""

    BUSY = "busy", gettext_noop("Busy only")
    TITLE = "title", gettext_noop("Title only")
    FULL = "full", gettext_noop("Full details")


class Handling(Choice):
    """How a kind of event (tentative, all-day) is copied."""

    BUSY = "busy", gettext_noop("Block as busy")
    FREE = "free", gettext_noop("Block as free")
    SKIP = "skip", gettext_noop("Don't copy")


# All-day events are not copied unless asked for: the form lists that first.
ALL_DAY_CHOICES = [
    (member.value, member.label) for member in (Handling.SKIP, Handling.BUSY, Handling.FREE)
]


class ShowAs(Choice):
    """Whether a block shows as busy or free in its calendar."""

    BUSY = "busy", gettext_noop("Always busy")
    FREE = "free", gettext_noop("Always free")
    SOURCE = "source", gettext_noop("Same as the source event")
