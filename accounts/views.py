from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from accounts import forms, selectors, services
from accounts.billing.plans import plan_overview
from accounts.http import AuthenticatedHttpRequest
from accounts.models import AuditLog, Consent, User
from integrations.kinds import AccountKind
from multical.lib import failed_attempts
from multical.lib.requests import client_ip

# The address a visitor just signed up with, so the "check your inbox" page can name it.
PENDING_EMAIL_SESSION_KEY = "accounts:pending_verification_email"
AUDIT_ENTRIES_PER_PAGE = 25


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = forms.SignupForm(request.POST or None)
    if request.method == "POST":
        failed_attempts.check(request, failed_attempts.SIGNUP)
        if form.is_valid():
            services.user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                time_zone=form.cleaned_data["time_zone"],
                marketing_email=form.cleaned_data["marketing_email"],
            )
            request.session[PENDING_EMAIL_SESSION_KEY] = form.cleaned_data["email"]
            return redirect("accounts:verify_sent")
        failed_attempts.record(request, failed_attempts.SIGNUP)
    return render(request, "accounts/signup.html", {"form": form, **_provider_buttons()})


def _provider_buttons() -> dict[str, bool]:
    # A provider's button only where its client id is set (its sign-in views 404 otherwise).
    return {
        "google_sign_in": bool(settings.GOOGLE_CLIENT_ID),
        "microsoft_sign_in": bool(settings.MICROSOFT_CLIENT_ID),
    }


def verify_sent(request: HttpRequest) -> HttpResponse:
    email = request.session.get(PENDING_EMAIL_SESSION_KEY, "")
    form = forms.ResendVerificationForm(initial={"email": email})
    return render(request, "accounts/verify_sent.html", {"email": email, "form": form})


@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    form = forms.ResendVerificationForm(request.POST)
    if not form.is_valid():
        return render(request, "accounts/verify_sent.html", {"form": form}, status=400)
    user = User.objects.filter(email=form.cleaned_data["email"], is_active=True).first()
    if user is not None:
        services.user_send_verification_email(user=user)
    request.session[PENDING_EMAIL_SESSION_KEY] = form.cleaned_data["email"]
    # The same answer whether or not the address has an account.
    messages.info(
        request,
        "If that address has an account waiting for verification, a new link is on its way.",
    )
    return redirect("accounts:verify_sent")


def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = selectors.user_from_verification_link(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "accounts/verify_invalid.html", status=400)
    services.user_verify_email(user=user)
    request.session.pop(PENDING_EMAIL_SESSION_KEY, None)
    messages.success(request, "Your e-mail address is verified. You can log in now.")
    return redirect("accounts:login")


class LoginView(auth_views.LoginView):
    """Password log-in; each success, and each refused password for an existing account, is audited."""

    form_class = forms.LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        failed_attempts.check(request, failed_attempts.LOGIN)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: auth_forms.AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        services.audit_log_record(
            user=form.get_user(),
            action=AuditLog.Action.LOGIN,
            ip_address=client_ip(self.request),
            method="password",
        )
        return response

    def form_invalid(self, form: auth_forms.AuthenticationForm) -> HttpResponse:
        failed_attempts.record(self.request, failed_attempts.LOGIN)
        errors = form.non_field_errors().as_data()
        if form.cleaned_data.get("username") and errors:
            services.audit_log_login_failed(
                email=form.cleaned_data["username"],
                ip_address=client_ip(self.request),
                reason=errors[0].code or "invalid_login",
            )
        return super().form_invalid(form)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **_provider_buttons()}


class PasswordResetView(auth_views.PasswordResetView):
    form_class = forms.PasswordResetForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        failed_attempts.check(request, failed_attempts.PASSWORD_RESET)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: auth_forms.PasswordResetForm) -> HttpResponse:
        failed_attempts.record(self.request, failed_attempts.PASSWORD_RESET)
        return super().form_invalid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        failed_attempts.check(request, failed_attempts.PASSWORD_RESET)
        response = super().dispatch(request, *args, **kwargs)
        if not self.validlink:  # opening a link is the guess at its token
            failed_attempts.record(request, failed_attempts.PASSWORD_RESET)
        return response

    def form_invalid(self, form: auth_forms.SetPasswordForm[User]) -> HttpResponse:
        failed_attempts.record(self.request, failed_attempts.PASSWORD_RESET)
        return super().form_invalid(form)

    def form_valid(self, form: auth_forms.SetPasswordForm[User]) -> HttpResponse:
        response = super().form_valid(form)
        # Following the e-mailed link proved the address too.
        services.user_verify_email(user=form.user)
        services.audit_log_record(
            user=form.user,
            action=AuditLog.Action.PASSWORD_RESET,
            ip_address=client_ip(self.request),
        )
        messages.success(self.request, "Your password is changed. Log in with the new one.")
        return response


@login_required
def account_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    marketing = selectors.consent_granted(user=user, kind=Consent.Kind.MARKETING_EMAIL)
    form = forms.ProfileForm(
        request.POST or None, instance=user, initial={"marketing_email": marketing}
    )
    if request.method == "POST" and form.is_valid():
        services.user_update_profile(
            user=user,
            time_zone=form.cleaned_data["time_zone"],
            week_start=form.cleaned_data["week_start"],
            clock=form.cleaned_data["clock"],
            marketing_email=form.cleaned_data["marketing_email"],
        )
        messages.success(request, "Settings saved.")
        return redirect("accounts:settings")
    notifications = forms.NotificationPreferencesForm(instance=user)
    return render(
        request,
        "accounts/settings.html",
        {"form": form, "notifications_form": notifications, "plan": plan_overview(user)},
    )


@login_required
@require_POST
def notification_preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = forms.NotificationPreferencesForm(request.POST)
    if form.is_valid():
        services.user_update_notifications(
            user=request.user,
            reconnect_alerts=form.cleaned_data["notify_reconnect_alerts"],
            booking_emails=form.cleaned_data["notify_booking_emails"],
            sync_alerts=form.cleaned_data["notify_sync_alerts"],
        )
        messages.success(request, "Notification settings saved.")
    return redirect("accounts:settings")


@login_required
def security_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's own audit log, newest first."""
    entries = Paginator(selectors.audit_log_for_user(request.user), AUDIT_ENTRIES_PER_PAGE)
    page = entries.get_page(request.GET.get("page"))
    rows = [(entry, _audit_details(entry)) for entry in page]
    return render(request, "accounts/security.html", {"page": page, "rows": rows})


_ACCOUNT_KINDS = dict(AccountKind.choices)
# Signing in with a provider names the company, not its calendar product.
_SIGN_IN_PROVIDERS = {"google": "Google", "microsoft": "Microsoft"}
_LOGIN_FAILURES = {
    "invalid_login": "wrong password",
    "unverified": "e-mail address not verified yet",
    "inactive": "account disabled",
}


def _audit_details(entry: AuditLog) -> str:
    """The entry's metadata in words: how a log-in happened, which provider an account is at."""
    metadata, action = entry.metadata, entry.action
    if action == AuditLog.Action.LOGIN:
        provider = metadata.get("provider")
        return f"with {_SIGN_IN_PROVIDERS.get(provider, provider)}" if provider else "with password"
    if action == AuditLog.Action.LOGIN_FAILED:
        reason = metadata.get("reason", "")
        return _LOGIN_FAILURES.get(reason, reason)
    if action == AuditLog.Action.DELETION_REQUESTED:
        return (
            "removing Multical's blocks" if metadata.get("remove_blocks") else "keeping the blocks"
        )
    provider = metadata.get("provider", "")
    return _ACCOUNT_KINDS.get(provider, provider)


@login_required
def password_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = auth_forms.PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        services.audit_log_record(
            user=form.user, action=AuditLog.Action.PASSWORD_CHANGED, ip_address=client_ip(request)
        )
        # The new password hash already invalidates every other session; end this one as well.
        logout(request)
        messages.success(request, "Your password is changed. Log in with the new one.")
        return redirect("accounts:login")
    return render(request, "accounts/password_change.html", {"form": form})
