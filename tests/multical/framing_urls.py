"""Probe views for the framing mechanism (``multical.lib.framing``), beside the project's URLs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from multical.lib.framing import ANY_SITE, allow_framing, framable
from multical.urls import urlpatterns as project_urlpatterns


@framable
def framed_by_example(request: HttpRequest) -> HttpResponse:
    return allow_framing(HttpResponse("<p>framed</p>"), ["https://example.com"])


@framable
def framed_by_anyone(request: HttpRequest) -> HttpResponse:
    return allow_framing(HttpResponse("<p>framed</p>"), [ANY_SITE])


@framable
def framable_but_not_this_time(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<p>not framed</p>")


def asks_without_the_decorator(request: HttpRequest) -> HttpResponse:
    """A view that asks for framing without being marked framable."""
    return allow_framing(HttpResponse("<p>not framed</p>"), [ANY_SITE])


@framable
def asks_for_a_source_that_is_no_origin(request: HttpRequest) -> HttpResponse:
    return allow_framing(HttpResponse("<p>x</p>"), ["https://example.com/path", "'self' *"])


urlpatterns = [
    path("probe/framed-by-example/", framed_by_example),
    path("probe/framed-by-anyone/", framed_by_anyone),
    path("probe/framable-not-now/", framable_but_not_this_time),
    path("probe/undecorated/", asks_without_the_decorator),
    path("probe/no-origin/", asks_for_a_source_that_is_no_origin),
    *project_urlpatterns,
]
