"""Typed readers for settings that come from the environment.

A variable read with ``dev_default`` is required in production: a deployment that forgot it stops
at start-up with a message naming the variable, instead of running with a development value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_UNSET = object()


class Env:
    def __init__(self, environ: Mapping[str, str] = os.environ, *, production: bool) -> None:
        self._environ = environ
        self.production = production

    def str(self, name: str, default: object = _UNSET, *, dev_default: object = _UNSET) -> str:
        """Read ``name``; ``default`` applies everywhere, ``dev_default`` only outside production."""
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if default is not _UNSET:
            return default  # type: ignore[return-value]
        if dev_default is not _UNSET and not self.production:
            return dev_default  # type: ignore[return-value]
        where = " in production" if dev_default is not _UNSET else ""
        raise ImproperlyConfigured(
            f"Set the environment variable {name}{where} (see .env.example)."
        )

    def bool(self, name: str, default: bool) -> bool:
        value = self._environ.get(name, "").strip().lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")

    def int(self, name: str, default: int) -> int:
        value = self._environ.get(name, "").strip()
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None

    def list(
        self, name: str, default: object = _UNSET, *, dev_default: object = _UNSET
    ) -> list[str]:
        """A comma-separated list; the defaults are given as lists."""
        raw = self.str(name, default, dev_default=dev_default)
        if isinstance(raw, list):
            return raw
        return [item.strip() for item in raw.split(",") if item.strip()]

    def pair(self, id_name: str, secret_name: str) -> tuple[str, str]:
        """An optional client id and its secret: either both are set or neither."""
        client_id = self.str(id_name, "")
        secret = self.str(secret_name, "")
        if bool(client_id) != bool(secret):
            raise ImproperlyConfigured(f"Set both {id_name} and {secret_name}, or neither.")
        return client_id, secret
