"""Enums whose members carry the words a person reads for them, usable as Django choices without
importing Django: the pure sync planner reads the same members as the models and forms.

Here rather than in ``multical.lib`` because importing anything under ``multical`` runs its package
init, which loads the Celery app, and the planner must load neither Celery nor Django.
"""

from __future__ import annotations

import enum


class _ChoiceType(enum.EnumType):
    @property
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) of each member, in order: what a Django field or form takes."""
        return [(member.value, member.label) for member in cls]  # type: ignore[attr-defined]


class Choice(enum.StrEnum, metaclass=_ChoiceType):
    """A stored value with its label: ``BUSY = "busy", "Busy only"``."""

    label: str

    def __new__(cls, value: str, label: str) -> Choice:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
