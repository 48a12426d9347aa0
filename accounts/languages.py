"""Which language the owner's side of Multical speaks to a user (settings.OWNER_LANGUAGES).

A signed-in user reads the language chosen in Settings, else the best match of what their browser
asks for; visitors who are not signed in (sign-in, sign-up, password reset, error pages) read the
browser's. The language cookie of the public booking pages is deliberately not read here: it
records an attendee's pick on someone's booking page (perhaps the owner trying their own page in
French), which says nothing about the language they run their account in.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from accounts.models import User


def owner_language_codes() -> list[str]:
    return [code for code, _name in settings.OWNER_LANGUAGES]


def supported_owner_language(code: str | None) -> str | None:
    """``code`` when the owner's side speaks it."""
    return code if code and code in owner_language_codes() else None


def browser_language(request: HttpRequest) -> str:
    """The first language in the request's Accept-Language that the owner's side speaks (a
    regional tag such as de-AT counts for its language), else the default."""
    for tag, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if tag == "*":
            break
        try:
            code = get_supported_language_variant(tag)
        except LookupError:
            continue
        if supported_owner_language(code):
            return code
    return settings.LANGUAGE_CODE


def reader_language(request: HttpRequest) -> str:
    """The language of this request's owner pages: the signed-in user's choice, else the
    browser's."""
    user = request.user
    if user.is_authenticated:
        chosen = supported_owner_language(getattr(user, "language", ""))
        if chosen:
            return chosen
    return browser_language(request)


def owner_language(user: User, *, browser: str | None = None) -> str:
    """The language of an e-mail to ``user``: their choice in Settings, else ``browser`` (the
    language of the request they are making themselves, such as a password reset), else the
    default. An e-mail a task or an attendee's booking sends has no browser of theirs to ask."""
    return (
        supported_owner_language(user.language)
        or supported_owner_language(browser)
        or settings.LANGUAGE_CODE
    )
