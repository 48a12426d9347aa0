"""Words kept in English, read in each reader's language.

A provider's error is stored the way it was raised (``ProviderError.msgid``, an English message
marked with ``gettext_noop``, and its ``params``: statuses and numbers, never event content), so a
connection's last error reads in German to a German owner and in English to an English one, and
a language added later applies to errors recorded before it. Rows kept from before the params
existed hold the English text alone: a known message is translated, any other shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import formats
from django.utils.translation import gettext

from integrations.base import ProviderError


def translated(message: str, params: Mapping[str, object] | None = None) -> str:
    """``message`` in the active language with ``params`` filled into its ``%(name)s`` places
    (numbers written the reader's way)."""
    if not message:
        return ""  # gettext("") is the catalogue's header
    text = gettext(message)
    if not params:
        return text
    return text % {name: _written(value) for name, value in params.items()}


def error_text(error: ProviderError) -> str:
    """What ``error`` says, in the active language."""
    return translated(error.msgid, error.params)


def _written(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return formats.number_format(value, force_grouping=True)
    return value
