"""Typed readers for settings that come from the environment.

A variable read with ``dev_default`` is required in production: a deployment that forgot it stops
at start-up with a message naming the variable, instead of running with a development value.
"""

from __future__ import annotations

import builtins
import enum
import os
from collections.abc import Mapping
from typing import Final, Literal, TypeVar

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET: Final = _Unset.UNSET
_Default = TypeVar("_Default")


class Env:
    def __init__(self, environ: Mapping[str, str] = os.environ, *, production: bool) -> None:
        self._environ = environ
        self.production = production

    def str(
        self,
        name: builtins.str,
        default: builtins.str | Literal[_Unset.UNSET] = _UNSET,
        *,
        dev_default: builtins.str | Literal[_Unset.UNSET] = _UNSET,
    ) -> builtins.str:
        """Read ``name``; ``default`` applies everywhere, ``dev_default`` only outside production."""
        return self._read(name, default, dev_default)

    def _read(
        self,
        name: builtins.str,
        default: _Default | Literal[_Unset.UNSET],
        dev_default: _Default | Literal[_Unset.UNSET],
    ) -> builtins.str | _Default:
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if default is not _UNSET:
            return default
        if dev_default is not _UNSET and not self.production:
            return dev_default
        where = " in production" if dev_default is not _UNSET else ""
        raise ImproperlyConfigured(
            f"Set the environment variable {name}{where} (see .env.example)."
        )

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self._environ.get(name, "").strip().lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")

    def int(self, name: builtins.str, default: builtins.int) -> builtins.int:
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None

    def list(
        self,
        name: builtins.str,
        default: builtins.list[builtins.str] | Literal[_Unset.UNSET] = _UNSET,
        *,
        dev_default: builtins.list[builtins.str] | Literal[_Unset.UNSET] = _UNSET,
    ) -> builtins.list[builtins.str]:
        """A comma-separated list; the defaults are given as lists."""
        raw = self._read(name, default, dev_default)
        if isinstance(raw, list):
            return raw
        return [item.strip() for item in raw.split(",") if item.strip()]

    def pair(
        self, id_name: builtins.str, secret_name: builtins.str
    ) -> tuple[builtins.str, builtins.str]:
        """An optional client id and its secret: either both are set or neither."""
        client_id = self.str(id_name, "")
        secret = self.str(secret_name, "")
        if bool(client_id) != bool(secret):
            raise ImproperlyConfigured(f"Set both {id_name} and {secret_name}, or neither.")
        return client_id, secret
