"""Owners in their own language: every message of the owner's side (its templates, e-mails and the
Python that words them) is translated into each language of settings.OWNER_LANGUAGES.

Which files are the owner's is not listed by hand: every template but the attendees' (the public
booking pages and the e-mails to attendees, which tests/booking/test_i18n.py holds to all the
languages), and every module of the project's apps but the public booking ones. A new owner page
or module is checked the day it is added.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "templates"
APPS = [
    "accounts",
    "booking",
    "calendars",
    "syncrules",
    "portfolio",
    "lifecycle",
    "webhooks",
    "api",
    "orgs",
    "console",
    "multical",
    # The providers word their errors, which reach owner pages (a connection's last error).
    "integrations",
]
# What attendees read: checked in every language by tests/booking/test_i18n.py.
ATTENDEE_TEMPLATES = ("booking/public/", "booking/email/attendee-", "booking/email/_attendee-")
ATTENDEE_MODULES = ("booking/public_", "booking/team_public_", "booking/ics.py")
OWNER_TRANSLATIONS = [code for code, _name in settings.OWNER_LANGUAGES if code != "en"]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")

Key = tuple[str | None, str | tuple[str, ...]]


def owner_templates() -> list[Path]:
    return sorted(
        path
        for path in TEMPLATES.rglob("*")
        if path.suffix in {".html", ".txt"}
        and not str(path.relative_to(TEMPLATES)).startswith(ATTENDEE_TEMPLATES)
    )


def owner_modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        and not str(path.relative_to(ROOT)).startswith(ATTENDEE_MODULES)
    )


def owner_messages() -> dict[Key, Path]:
    """Every message the owner's side can show, as makemessages finds it: (context, msgid)."""
    found: dict[Key, Path] = {}
    sources = [(_templatized(path), path) for path in owner_templates()] + [
        (path.read_text(), path) for path in owner_modules()
    ]
    for source, path in sources:
        for _line, message, _comments, context in extract(
            "python", io.BytesIO(source.encode()), keywords=KEYWORDS
        ):
            msgid = message if isinstance(message, str) else tuple(message)
            assert msgid, f"an empty message in {path}"
            found.setdefault((context, msgid), path)
    return found


def _templatized(path: Path) -> str:
    """The template as makemessages hands it to xgettext: its messages as gettext calls (each on
    one line, as string literals), the rest filler. Unindented: xgettext reads it as a stream of
    calls, where Python's tokenizer would trip over a template indented in the middle."""
    source = templatize(path.read_text(), origin=str(path))
    return "\n".join(line.lstrip() for line in source.splitlines())


def test_the_owner_files_are_found_and_the_attendees_left_to_their_own_test():
    templates = {str(path.relative_to(TEMPLATES)) for path in owner_templates()}
    modules = {str(path.relative_to(ROOT)) for path in owner_modules()}

    assert {"base.html", "dashboard.html", "accounts/settings.html", "404.html"} <= templates
    assert "booking/email/owner-booked-subject.txt" in templates
    assert not any(name.startswith(ATTENDEE_TEMPLATES) for name in templates)
    assert {"accounts/forms.py", "portfolio/words.py", "syncrules/choices.py"} <= modules
    assert {"integrations/base.py", "integrations/kinds.py", "multical/lib/safe_http.py"} <= modules
    assert "booking/public_views.py" not in modules
    messages = owner_messages()
    assert (None, "Settings saved.") in messages  # Python
    assert (None, "Security log") in messages  # a template
    assert ("abandon a form", "Cancel") in messages  # with a context
    assert (None, ("%(blocks)s block", "%(blocks)s blocks")) in messages  # a plural
    assert (None, "Busy only") in messages  # marked without Django (the planner's labels)
    assert (None, "CalDAV server") in messages  # a provider's kind, marked without Django too
    assert (None, "The CalDAV server had a problem (HTTP %(status)s).") in messages  # an error


@pytest.mark.parametrize("language", OWNER_TRANSLATIONS)
def test_every_owner_message_is_translated_in_each_owner_language(language):
    path = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    with path.open("rb") as file:
        catalogue = read_po(file, locale=language)
    entries = {
        (message.context, message.id if isinstance(message.id, str) else tuple(message.id)): message
        for message in catalogue
        if message.id
    }
    problems = []
    for (context, msgid), source in sorted(owner_messages().items(), key=str):
        entry = entries.get((context, msgid))
        where = f"{msgid!r} ({source.relative_to(ROOT)})"
        if entry is None:
            problems.append(f"not in the catalogue (run makemessages): {where}")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(strings):
            problems.append(f"not translated: {where}")
            continue
        # Every value the English gives, in the same named places; a singular may leave out
        # the count ("Times offered tomorrow"), the plural may not.
        wanted = set(PLACEHOLDER.findall(" ".join(msgid if isinstance(msgid, tuple) else [msgid])))
        for index, string in enumerate(strings):
            found = set(PLACEHOLDER.findall(string))
            whole = not isinstance(msgid, tuple) or index == len(strings) - 1
            if found - wanted or (whole and found != wanted):
                problems.append(f"placeholders differ in {string!r}: {where}")

    assert problems == [], f"{language}: {len(problems)} owner messages:\n" + "\n".join(problems)
