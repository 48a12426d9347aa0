"""Provider slug → provider class, imported on first use so a process loads only what it calls."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.module_loading import import_string

from integrations.base import Provider

PROVIDER_CLASSES = {
    "google": "integrations.google.provider.GoogleProvider",
    "microsoft": "integrations.microsoft.provider.MicrosoftProvider",
    "caldav": "integrations.caldav.provider.CalDAVProvider",
    "ics": "integrations.ics.provider.ICSProvider",
}


def provider_class(slug: str) -> type[Provider]:
    found: type[Provider] = import_string(PROVIDER_CLASSES[slug])
    return found


def build_provider(slug: str, secrets: Mapping[str, str]) -> Provider:
    return provider_class(slug).from_secrets(secrets)
