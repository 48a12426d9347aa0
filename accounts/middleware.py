"""Every page a signed-in user reads shows times in their own zone and on their own clock."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

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
