"""No page template carries inline script or style: the Content-Security-Policy would block it.

E-mail templates are the exception: mail clients ignore our policy and drop linked stylesheets, so
e-mails are styled inline.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

INLINE = {
    "a style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "a <style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "an inline <script>": re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>(?!\s*</script>)", re.IGNORECASE
    ),
    "an event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def page_templates() -> list[Path]:
    root = Path(settings.BASE_DIR) / "templates"
    return [
        path
        for path in sorted(root.rglob("*.html"))
        if "email" not in path.relative_to(root).parts and path.name != "email.html"
    ]


def test_no_page_template_has_inline_script_or_style():
    found = [
        f"{path.relative_to(settings.BASE_DIR)}: {what}"
        for path in page_templates()
        for what, pattern in INLINE.items()
        if pattern.search(path.read_text())
    ]

    assert len(page_templates()) > 50
    assert found == []


def test_the_check_itself_finds_inline_code():
    samples = {
        "a style attribute": '<p style="color: red">',
        "a <style> element": "<style>p {}</style>",
        "an inline <script>": "<script>alert(1)</script>",
        "an event handler attribute": '<img src="x" onerror="alert(1)">',
        "a javascript: URL": '<a href="javascript:alert(1)">',
    }
    for what, sample in samples.items():
        assert INLINE[what].search(sample), what
    assert not INLINE["an inline <script>"].search('<script src="/static/x.js" defer></script>')
    assert not INLINE["an inline <script>"].search('{{ config|json_script:"portfolio-config" }}')
