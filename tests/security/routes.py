"""Every URL pattern of the project, as the walks in this suite need them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, UUIDConverter
from django.urls.resolvers import RegexPattern, RoutePattern

# A <converter:name> part of a route.
_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
# A named group of a regular-expression pattern (only the admin has them).
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")
# What a regular-expression group of the admin's is filled with.
_GROUP_VALUES = {"app_label": "accounts", "url": "anything"}


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full route, its name ("namespace:name", or the route when unnamed),
    its view, and the converter of each parameter ("regex" for a regular expression's group)."""

    route: str
    name: str
    callback: Callable
    converters: dict[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.name.split(":", 1)[0] if ":" in self.name else ""

    @property
    def takes_an_object_id(self) -> bool:
        return any(converter in {"uuid", "int"} for converter in self.converters.values())

    def path(self, values: dict[str, object] | None = None) -> str:
        """The route filled with ``values``, and any value not given with one of its shape."""
        values = values or {}

        def parameter(match: re.Match[str]) -> str:
            name = match["name"]
            if name in values:
                return str(values[name])
            return {"uuid": str(uuid.uuid4()), "int": "1", "path": "1"}.get(
                match["converter"] or "str", "x"
            )

        def group(match: re.Match[str]) -> str:
            return str(values.get(match["name"], _GROUP_VALUES[match["name"]]))

        filled = _PARAMETER.sub(parameter, _GROUP.sub(group, self.route))
        return "/" + filled.replace("^", "").replace("$", "")


def routes() -> list[Route]:
    return list(_walk(get_resolver(), "", None, {}))


def _walk(
    resolver: URLResolver, prefix: str, namespace: str | None, converters: dict[str, str]
) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        found = {**converters, **_converters(entry.pattern)}
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace])) or None
            yield from _walk(entry, route, inner, found)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Route(route=route, name=name or route, callback=entry.callback, converters=found)


def _converters(pattern: RoutePattern | RegexPattern) -> dict[str, str]:
    if isinstance(pattern, RegexPattern):
        return {name: "regex" for name in pattern.regex.groupindex}
    found = {}
    for name, converter in pattern.converters.items():
        if isinstance(converter, UUIDConverter):
            found[name] = "uuid"
        elif isinstance(converter, IntConverter):
            found[name] = "int"
        else:
            found[name] = type(converter).__name__.removesuffix("Converter").lower()
    return found
