"""The base of the typed settings the services take (``RuleSettings``, ``PageSettings``): a frozen
dataclass whose fields are some of a model's fields, with the same names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field, fields
from typing import Any, ClassVar, Self


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


class ModelSettings:
    """Mixed into a frozen dataclass. ``TYPED`` turns a value as a model or a form holds it into
    the field's type (an enum, a tuple); sequences are stored on the model as lists again."""

    TYPED: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    SEQUENCES: ClassVar[tuple[str, ...]] = ()
    # Set by @dataclass on the subclass; declared so the type checker knows ``fields`` applies.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Self:
        """The settings in ``values`` (one entry per field, as an instance or a form holds them)."""
        given = {field.name: values[field.name] for field in fields(cls)}
        for name in cls.SEQUENCES:
            given[name] = _tuple(given[name])
        for name, typed in cls.TYPED.items():
            given[name] = typed(given[name])
        return cls(**given)

    @classmethod
    def of(cls, instance: object) -> Self:
        """The settings ``instance`` holds (an unsaved new instance holds the defaults)."""
        names = [field.name for field in fields(cls)]
        return cls.from_values({name: getattr(instance, name) for name in names})

    def apply_to(self, instance: object) -> None:
        """Set each setting on ``instance`` (unsaved)."""
        for field in fields(self):
            value = getattr(self, field.name)
            setattr(instance, field.name, list(value) if field.name in self.SEQUENCES else value)
