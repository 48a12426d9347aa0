"""The API's reference page, read from its OpenAPI document: the operations by tag, each with the
scopes it needs, its parameters, its body's fields and its answers, then every schema.

Rendered on the server like every other page (no script, our own styles), so it reads at any
width, works without JavaScript and follows the site's accessibility checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_REF = "#/components/schemas/"
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def prose(text: str) -> SafeString:
    """The document's descriptions: paragraphs, `code` and **bold**, everything else escaped."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text or "") if part.strip()]
    html = []
    for paragraph in paragraphs:
        words = str(escape(" ".join(paragraph.split())))
        words = _CODE.sub(r"<code>\1</code>", words)
        words = _BOLD.sub(r"<strong>\1</strong>", words)
        html.append(f"<p>{words}</p>")
    return mark_safe("".join(html))  # noqa: S308 (built from escaped text only)


def type_of(schema: dict[str, Any]) -> str:
    """A JSON schema's type in a few words: ``string (date-time)``, ``list of Rule``, ``… or null``."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(_REF)
    if "anyOf" in schema:
        return " or ".join(type_of(part) for part in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"“{value}”" for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)


@dataclass
class Field:
    name: str
    type: str
    required: bool
    description: str
    default: str


@dataclass
class Operation:
    id: str
    method: str
    path: str
    summary: str
    description: SafeString
    scopes: list[str] | None  # None: no key needed
    parameters: list[Field] = field(default_factory=list)
    body: str | None = None
    answers: list[tuple[str, str, str]] = field(default_factory=list)  # status, words, schema


@dataclass
class Section:
    tag: str
    operations: list[Operation]


@dataclass
class Schema:
    name: str
    fields: list[Field]
    description: SafeString


def _fields(schema: dict[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    return [
        Field(
            name=name,
            type=type_of(spec),
            required=name in required,
            description=spec.get("description", ""),
            default="" if "default" not in spec else repr(spec["default"]),
        )
        for name, spec in schema.get("properties", {}).items()
    ]


def _parameter(spec: dict[str, Any]) -> Field:
    schema = spec.get("schema", {})
    return Field(
        name=spec["name"],
        type=f"{type_of(schema)}, in the {spec['in']}",
        required=bool(spec.get("required")),
        description=spec.get("description", schema.get("description", "")),
        default="" if "default" not in schema else repr(schema["default"]),
    )


def reference(document: dict[str, Any]) -> tuple[list[Section], list[Schema]]:
    components = document.get("components", {}).get("schemas", {})
    sections: dict[str, Section] = {}
    for path, item in document.get("paths", {}).items():
        for method, spec in item.items():
            tag = (spec.get("tags") or ["Other"])[0]
            security = spec.get("security")
            operation = Operation(
                id=spec["operationId"],
                method=method.upper(),
                path=path,
                summary=spec.get("summary", ""),
                description=prose(spec.get("description", "")),
                scopes=None if not security else list(next(iter(security[0].values()))),
            )
            operation.parameters = [_parameter(item) for item in spec.get("parameters", [])]
            body = spec.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                operation.body = type_of(body.get("schema", {}))
            for status, answer in sorted(spec.get("responses", {}).items()):
                content: dict[str, Any] = next(iter(answer.get("content", {}).values()), {})
                operation.answers.append(
                    (
                        status,
                        answer.get("description", ""),
                        type_of(content.get("schema", {})) if content else "",
                    )
                )
            sections.setdefault(tag, Section(tag, [])).operations.append(operation)
    schemas = [
        Schema(name=name, fields=_fields(spec), description=prose(spec.get("description", "")))
        for name, spec in sorted(components.items())
        if spec.get("type") == "object"
    ]
    return list(sections.values()), schemas
