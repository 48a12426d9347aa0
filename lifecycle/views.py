"""The account settings' data export and account deletion."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import forms
from accounts.http import AuthenticatedHttpRequest
from accounts.models import AuditLog
from accounts.services import audit_log_record
from lifecycle.export import account_export
from lifecycle.services import account_deletion_request
from multical.lib import rate_limits
from multical.lib.requests import client_ip


@never_cache
@login_required
@require_POST
@rate_limits.ratelimit(
    group="data-export", rate=rate_limits.setting_rate("DATA_EXPORT_RATE"), method="POST"
)
def data_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Everything we keep about the user, as a JSON file to download (no credentials in it)."""
    user = request.user
    audit_log_record(user=user, action=AuditLog.Action.DATA_EXPORTED, ip_address=client_ip(request))
    response = JsonResponse(
        account_export(user=user), encoder=DjangoJSONEncoder, json_dumps_params={"indent": 2}
    )
    filename = f"multical-data-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def delete_account(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Close the account now (every session ends); a task removes the rest in the background."""
    user = request.user
    form = forms.DeleteAccountForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        account_deletion_request(
            user=user,
            remove_blocks=form.cleaned_data["remove_blocks"],
            ip_address=client_ip(request),
        )
        logout(request)
        messages.info(
            request,
            _(
                "Your account is closed, and its data is being deleted. Thank you for using Multical."
            ),
        )
        return redirect("landing")
    return render(request, "accounts/delete_account.html", {"form": form})
