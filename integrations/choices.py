"""Enums whose members carry the words a person reads for them, usable as Django choices without
importing Django: the pure sync planner reads the same members as the models and forms.

Here rather than in ``multical.lib`` because importing anything under ``multical`` runs its package
init, which loads the Celery app, and the planner must load neither Celery nor Django.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import cast


def gettext_noop(message: str) -> str:
    """Marks English words for the message catalogues (``makemessages`` looks for the name)
    without importing Django, so the pure planner and the provider contract can use it: whoever
    shows the words translates them there (``integrations.wording.translated``, ``{% translate %}``).
    """
    return message


def in_english(message: str, params: Mapping[str, str | int]) -> str:
    """A message kept with its values apart, in English with the values filled in (numbers
    grouped as English writes them): what logs and ``str()`` of an error say."""
    if not params:
        return message
    return message % {
        name: f"{value:,}" if isinstance(value, int) else value for name, value in params.items()
    }


class _ChoiceType(enum.EnumType):
    @property
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) of each member, in order: what a Django field or form takes."""
        # Only Choice subclasses have this metaclass; typeshed types an enum's members by its class.
        return [(member.value, member.label) for member in cast("Iterable[Choice]", cls)]


class Choice(enum.StrEnum, metaclass=_ChoiceType):
    """A stored value with its label: ``BUSY = "busy", "Busy only"``."""

    label: str

    # A member is defined with its label; `Visibility("busy")` looks one up by value, which the
    # enum does without calling this, but type checkers read this signature for that call too.
    def __new__(cls, value: str, label: str = "") -> Choice:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
