"""Settings → API keys: make a key (shown once), see when each was last used, revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from api import selectors, services
from api.forms import ApiKeyForm
from api.scopes import Scope
from multical.lib.requests import client_ip

_SCOPE_LABELS = dict(Scope.choices)


@login_required
def key_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiKeyForm(time_zone=request.user.time_zone)
    return _list(request, form)


@never_cache
@login_required
@require_POST
def key_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST, time_zone=request.user.time_zone)
    if not form.is_valid():
        return _list(request, form, status=400)
    key, token = services.api_key_create(
        user=request.user,
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
        expires_at=form.expires_at(),
        ip_address=client_ip(request),
    )
    # Answered here, never redirected to: the token is in this one response and nowhere else.
    return render(request, "api/key_created.html", {"key": key, "token": token})


@login_required
@require_POST
def key_revoke(request: AuthenticatedHttpRequest, key_id: str) -> HttpResponse:
    key = selectors.get_key_for_user(request.user, key_id)
    services.api_key_revoke(key=key, ip_address=client_ip(request))
    messages.success(request, _("The key “%(name)s” no longer works.") % {"name": key.name})
    return redirect("api_keys:list")


def _list(
    request: AuthenticatedHttpRequest, form: ApiKeyForm, *, status: int = 200
) -> HttpResponse:
    keys = [
        (key, [str(_SCOPE_LABELS.get(scope, scope)) for scope in key.scopes])
        for key in selectors.keys_for_user(request.user)
    ]
    return render(request, "api/keys.html", {"keys": keys, "form": form}, status=status)
