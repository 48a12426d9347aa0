"""The project's URLs plus a few probe views the security tests need (``pytest.mark.urls``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.clickjacking import xframe_options_exempt

from multical.lib import failed_attempts
from multical.urls import urlpatterns as project_urlpatterns

PROBE_PASSWORD = "open sesame"


def server_error(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


@xframe_options_exempt
def weak_headers(request: HttpRequest) -> HttpResponse:
    """A view that tries to loosen every security header, as a careless one might."""
    response = HttpResponse("<p>framed</p>")
    response["Content-Security-Policy"] = "default-src *"
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["Referrer-Policy"] = "unsafe-url"
    return response


def guarded_login(request: HttpRequest) -> HttpResponse:
    """A log-in form's shape: check before trying, record the failures."""
    failed_attempts.check(request, failed_attempts.LOGIN)
    if request.POST.get("password") == PROBE_PASSWORD:
        return HttpResponse("welcome")
    failed_attempts.record(request, failed_attempts.LOGIN)
    return HttpResponse("wrong password", status=401)


urlpatterns = [
    path("probe/error/", server_error),
    path("probe/weak-headers/", weak_headers),
    path("probe/login/", guarded_login),
    *project_urlpatterns,
]
