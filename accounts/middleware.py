"""Every page a signed-in user reads shows times in their own zone and on their own clock, and
every owner page speaks the reader's language."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from accounts.languages import reader_language
from multical.lib import clock


class ReaderMiddleware:
    """Activate the signed-in user's time zone and clock for their request, so every datetime a
    template shows (``|date``, ``{% load clock %}``) is in their zone and on their clock. Public
    pages written for an attendee name the zone and clock they use themselves."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return self.get_response(request)
        with timezone.override(user.time_zone), clock.override(user.clock):
            return self.get_response(request)


class LanguageMiddleware:
    """Activate the language of the owner's side for the request (``accounts.languages``): the
    signed-in user's choice in Settings, else their browser's among settings.OWNER_LANGUAGES.
    Error pages, messages and e-mails sent during the request speak it too. Public booking views
    override it for their own responses with the attendee's language (and say so in their own
    Content-Language, which this leaves as it is)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = reader_language(request)
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Accept-Language",))
        return response
