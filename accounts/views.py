from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from accounts import forms, selectors, services
from accounts.models import AuditLog, Consent, User
from multical.lib.requests import client_ip

# The address a visitor just signed up with, so the "check your inbox" page can name it.
PENDING_EMAIL_SESSION_KEY = "accounts:pending_verification_email"


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = forms.SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_register(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            time_zone=form.cleaned_data["time_zone"],
            marketing_email=form.cleaned_data["marketing_email"],
        )
        request.session[PENDING_EMAIL_SESSION_KEY] = form.cleaned_data["email"]
        return redirect("accounts:verify-sent")
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
    return redirect("accounts:verify-sent")


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

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        services.audit_log_record(
            user=form.get_user(),
            action=AuditLog.Action.LOGIN,
            ip_address=client_ip(self.request),
            method="password",
        )
        return response

    def form_invalid(self, form):  # type: ignore[no-untyped-def]
        errors = form.non_field_errors().as_data()
        if form.cleaned_data.get("username") and errors:
            services.audit_log_login_failed(
                email=form.cleaned_data["username"],
                ip_address=client_ip(self.request),
                reason=errors[0].code or "invalid_login",
            )
        return super().form_invalid(form)

    def get_context_data(self, **kwargs):  # type: ignore[no-untyped-def]
        return {**super().get_context_data(**kwargs), **_provider_buttons()}


class PasswordResetView(auth_views.PasswordResetView):
    form_class = forms.PasswordResetForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password-reset-done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        # Following the e-mailed link proved the address too.
        services.user_verify_email(user=form.user)
        messages.success(self.request, "Your password is changed. Log in with the new one.")
        return response


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    marketing = selectors.consent_granted(user=user, kind=Consent.Kind.MARKETING_EMAIL)
    form = forms.ProfileForm(
        request.POST or None, instance=user, initial={"marketing_email": marketing}
    )
    if request.method == "POST" and form.is_valid():
        services.user_update_profile(
            user=user,
            time_zone=form.cleaned_data["time_zone"],
            marketing_email=form.cleaned_data["marketing_email"],
        )
        messages.success(request, "Settings saved.")
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        # The new password hash already invalidates every other session; end this one as well.
        logout(request)
        messages.success(request, "Your password is changed. Log in with the new one.")
        return redirect("accounts:login")
    return render(request, "accounts/password_change.html", {"form": form})
