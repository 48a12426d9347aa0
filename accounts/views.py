from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import forms, selectors, services, sign_in, tokens, two_factor
from accounts.billing.plans import plan_overview
from accounts.http import AuthenticatedHttpRequest
from accounts.languages import reader_language
from accounts.models import AuditLog, Consent, User
from accounts.oauth_views import safe_next
from integrations.kinds import AccountKind
from multical.lib import failed_attempts
from multical.lib.requests import client_ip

# The address a visitor just signed up with, so the "check your inbox" page can name it.
PENDING_EMAIL_SESSION_KEY = "accounts:pending_verification_email"
# Where the visitor was going when they signed up (an invitation's link, say): the verification
# link opened in the same browser signs them in and takes them there.
SIGN_UP_NEXT_SESSION_KEY = "accounts:sign-up-next"
AUDIT_ENTRIES_PER_PAGE = 25


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = forms.SignupForm(request.POST or None)
    next_url = safe_next(request, request.POST.get("next", request.GET.get("next")))
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
            request.session[SIGN_UP_NEXT_SESSION_KEY] = next_url
            return redirect("accounts:verify_sent")
        failed_attempts.record(request, failed_attempts.SIGNUP)
    login_link = reverse("accounts:login")
    if next_url:
        login_link += "?" + urlencode({"next": next_url})
    context = {"form": form, "next": next_url, "login_link": login_link}
    return render(request, "accounts/signup.html", {**context, **_provider_buttons()})


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
        _("If that address has an account waiting for verification, a new link is on its way."),
    )
    return redirect("accounts:verify_sent")


@never_cache
def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link in the sign-up e-mail: verifies the address and signs its owner in, once, in the
    browser that signed up (or asked for the link again); anywhere else the address is verified
    and the owner logs in. Otherwise anyone could sign a victim into an account of the attacker's
    with a link of their own, and read what the victim then connects to it.

    Opened again, it says it was used (a signed-in visitor is sent on to the dashboard). Opened
    while someone else is signed in, it does nothing: nobody is swapped into another account by
    a link they were sent.
    """
    user = selectors.user_from_verification_link(uidb64=uidb64, token=token)
    if user is None:
        if selectors.user_from_verification_link(uidb64=uidb64, token=token, used=True) is None:
            return render(request, "accounts/verify_invalid.html", status=400)
        if request.user.is_authenticated:
            messages.info(request, _("Your e-mail address is verified already."))
            return redirect("dashboard")
        return render(request, "accounts/verify_used.html", status=410)
    if request.user.is_authenticated and request.user.pk != user.pk:
        return render(request, "accounts/verify_other_account.html", status=409)
    pending = request.session.pop(PENDING_EMAIL_SESSION_KEY, "")
    next_url = safe_next(request, request.session.pop(SIGN_UP_NEXT_SESSION_KEY, ""))
    if not services.user_verify_email(user=user):  # the same link, opened twice at once
        return render(request, "accounts/verify_used.html", status=410)
    if not user.is_active or user.deletion_requested_at is not None:
        return redirect("accounts:login")
    if str(pending).lower() != user.email.lower():
        messages.success(request, _("Your e-mail address is verified. Log in to start."))
        return redirect("accounts:login")
    messages.success(request, _("Your e-mail address is verified. Welcome to Multical!"))
    return sign_in.sign_in(request, user, next_url=next_url, method="email_link")


class LoginView(auth_views.LoginView):
    """Password log-in; each success, and each refused password for an existing account, is audited."""

    form_class = forms.LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        failed_attempts.check(request, failed_attempts.LOGIN)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: auth_forms.AuthenticationForm) -> HttpResponse:
        # Signed in now, or (two-factor sign-in on) asked for the code first.
        user = form.get_user()
        assert isinstance(user, User)
        return sign_in.sign_in(
            self.request, user, next_url=self.get_success_url(), method="password"
        )

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
        messages.success(self.request, _("Your password is changed. Log in with the new one."))
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
            language=form.cleaned_data["language"],
            marketing_email=form.cleaned_data["marketing_email"],
        )
        # Said in the language just chosen, as the page it leads to will be.
        with translation.override(reader_language(request)):
            messages.success(request, _("Settings saved."))
        return redirect("accounts:settings")
    notifications = forms.NotificationPreferencesForm(instance=user)
    return render(
        request,
        "accounts/settings.html",
        {
            "form": form,
            "notifications_form": notifications,
            "plan": plan_overview(user),
            "two_factor_on": two_factor.enabled_for(user),
            "recovery_codes_left": two_factor.recovery_codes_left(user),
        },
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
        messages.success(request, _("Notification settings saved."))
    return redirect("accounts:settings")


@login_required
def security_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's own audit log, newest first."""
    entries = Paginator(selectors.audit_log_for_user(request.user), AUDIT_ENTRIES_PER_PAGE)
    page = entries.get_page(request.GET.get("page"))
    rows = [(entry, _audit_details(entry)) for entry in page]
    return render(request, "accounts/security.html", {"page": page, "rows": rows})


_ACCOUNT_KINDS = dict(AccountKind.choices)
# Named by the receiver's host alone (its path may hold the receiver's own token).
_WEBHOOK_ACTIONS = {
    AuditLog.Action.WEBHOOK_CREATED,
    AuditLog.Action.WEBHOOK_SECRET_ROTATED,
    AuditLog.Action.WEBHOOK_DELETED,
}
_API_KEY_ACTIONS = {
    AuditLog.Action.API_KEY_CREATED,
    AuditLog.Action.API_KEY_NEW_ADDRESS,
    AuditLog.Action.API_KEY_REVOKED,
}
# Signing in with a provider names the company, not its calendar product.
_SIGN_IN_PROVIDERS = {"google": "Google", "microsoft": "Microsoft"}
_SECOND_FACTORS = {
    "totp": gettext_lazy("with password and an authenticator code"),
    "recovery_code": gettext_lazy("with password and a recovery code"),
}
_CODE_STAGES = {
    "sign_in": gettext_lazy("at sign-in"),
    "setup": gettext_lazy("while turning two-factor sign-in on"),
    "confirm": gettext_lazy("while confirming it was you"),
}
_LOGIN_FAILURES = {
    "invalid_login": gettext_lazy("wrong password"),
    "unverified": gettext_lazy("e-mail address not verified yet"),
    "inactive": gettext_lazy("account disabled"),
}


def _audit_details(entry: AuditLog) -> str:
    """The entry's metadata in words: how a log-in happened, which provider an account is at."""
    metadata, action = entry.metadata, entry.action
    if action == AuditLog.Action.LOGIN:
        return _login_details(metadata)
    if action == AuditLog.Action.TWO_FACTOR_FAILED:
        return str(_CODE_STAGES.get(metadata.get("stage", ""), ""))
    if action == AuditLog.Action.RECOVERY_CODE_USED:
        left = metadata.get("codes_left")
        return _("%(left)s left") % {"left": left} if isinstance(left, int) else ""
    if action in (AuditLog.Action.EMAIL_CHANGE_REQUESTED, AuditLog.Action.EMAIL_CHANGED):
        return _("to %(email)s") % {"email": metadata.get("new_email", "")}
    if action == AuditLog.Action.LOGIN_FAILED:
        reason = metadata.get("reason", "")
        return str(_LOGIN_FAILURES.get(reason, reason))
    if action == AuditLog.Action.DELETION_REQUESTED:
        return (
            _("removing Multical's blocks")
            if metadata.get("remove_blocks")
            else _("keeping the blocks")
        )
    if action in _API_KEY_ACTIONS:
        return f"mck_{metadata.get('prefix', '')}_…"
    if action in _WEBHOOK_ACTIONS:
        return str(metadata.get("host", ""))
    provider = metadata.get("provider", "")
    return _(_ACCOUNT_KINDS[provider]) if provider in _ACCOUNT_KINDS else provider


def _login_details(metadata: dict[str, Any]) -> str:
    """How a log-in happened: the door (provider, e-mailed link or password) and any second step."""
    provider = metadata.get("provider")
    second = metadata.get("second_factor", "")
    if provider:
        name = _SIGN_IN_PROVIDERS.get(provider, provider)
        if second == "totp":
            return _("with %(provider)s and an authenticator code") % {"provider": name}
        if second == "recovery_code":
            return _("with %(provider)s and a recovery code") % {"provider": name}
        return _("with %(provider)s") % {"provider": name}
    if metadata.get("method") == "email_link":
        if second == "totp":
            return _("with the e-mailed verification link and an authenticator code")
        if second == "recovery_code":
            return _("with the e-mailed verification link and a recovery code")
        return _("with the e-mailed verification link")
    if second in _SECOND_FACTORS:
        return str(_SECOND_FACTORS[second])
    return _("with password")


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
        messages.success(request, _("Your password is changed. Log in with the new one."))
        return redirect("accounts:login")
    return render(request, "accounts/password_change.html", {"form": form})


# Two-factor sign-in -------------------------------------------------------------------------------

WRONG_CODE = gettext_lazy(
    "That code is not right. Check the time on your phone, or use a recovery code."
)
WRONG_SETUP_CODE = gettext_lazy("That code is not right. Type the six digits the app shows now.")


@never_cache
@require_http_methods(["GET", "POST"])
def login_two_factor(request: HttpRequest) -> HttpResponse:
    """The second step of a sign-in: the password (or provider) was right, the code is asked."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    held = sign_in.pending(request)
    if held is None:
        messages.info(
            request, _("Your sign-in took too long or was not started here. Log in again.")
        )
        return redirect("accounts:login")
    form = forms.TwoFactorCodeForm(request.POST or None)
    if request.method == "POST":
        sign_in.attempts_check(request, group=sign_in.FAILED_CODES, user=held.user)
        if form.is_valid():
            method = two_factor.check_second_factor(
                user=held.user,
                code=form.cleaned_data["code"],
                ip_address=client_ip(request),
                stage="sign_in",
            )
            if method is not None:
                if method == "recovery_code":
                    left = two_factor.recovery_codes_left(held.user)
                    messages.warning(
                        request,
                        ngettext(
                            "You signed in with a recovery code; %(left)s of them left. Make new "
                            "ones in Settings if you lost your authenticator.",
                            "You signed in with a recovery code; %(left)s of them left. Make new "
                            "ones in Settings if you lost your authenticator.",
                            left,
                        )
                        % {"left": left},
                    )
                return sign_in.second_step_passed(request, held, second_factor=method)
            form.add_error("code", WRONG_CODE)
        sign_in.attempts_record(request, group=sign_in.FAILED_CODES, user=held.user)
    return render(request, "accounts/login_two_factor.html", {"form": form})


@require_POST
def login_two_factor_cancel(request: HttpRequest) -> HttpResponse:
    sign_in.pending_cancel(request)
    return redirect("accounts:login")


@login_required
@require_POST
def two_factor_start(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Make a new secret to set up (a POST, so that no link or prefetch replaces one being read)."""
    if two_factor.enabled_for(request.user):
        return redirect("accounts:settings")
    two_factor.setup_begin(user=request.user)
    return redirect("accounts:two_factor_setup")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Scan the QR code (or type the secret), then prove it with a code: only then is it on."""
    user = request.user
    device = two_factor.pending_setup(user=user)
    if device is None:
        return redirect("accounts:settings")
    form = forms.TwoFactorCodeForm(request.POST or None, recovery=False)
    if request.method == "POST":
        sign_in.attempts_check(request, group=sign_in.FAILED_CODES, user=user)
        if form.is_valid():
            codes = two_factor.enable(
                device=device, code=form.cleaned_data["code"], ip_address=client_ip(request)
            )
            if codes is not None:
                # Every other session ended with the new stamp; this one goes on.
                update_session_auth_hash(request, user)
                messages.success(request, _("Two-factor sign-in is on."))
                return _recovery_codes_page(request, codes)
            form.add_error("code", WRONG_SETUP_CODE)
        sign_in.attempts_record(request, group=sign_in.FAILED_CODES, user=user)
    secret, qr_svg = two_factor.setup_details(device)
    return render(
        request,
        "accounts/two_factor_setup.html",
        # segno's own SVG of our otpauth URI: no markup of anyone else's reaches it.
        {"form": form, "secret": secret, "qr_svg": mark_safe(qr_svg)},  # noqa: S308
    )


def _recovery_codes_page(request: HttpRequest, codes: list[str]) -> HttpResponse:
    # Shown in the answer to the POST that made them and kept nowhere: never cached.
    response = render(request, "accounts/two_factor_recovery_codes.html", {"codes": codes})
    add_never_cache_headers(response)
    return response


def _confirmed_it_is_you(request: AuthenticatedHttpRequest, form: forms.ConfirmItIsYouForm) -> bool:
    """The password (or a code) of the form is right; failures count like failed log-ins."""
    user = request.user
    sign_in.attempts_check(request, group=sign_in.FAILED_REAUTH, user=user)
    confirmed = form.is_valid()
    if confirmed and "code" in form.cleaned_data:
        method = two_factor.check_second_factor(
            user=user,
            code=form.cleaned_data["code"],
            ip_address=client_ip(request),
            stage="confirm",
        )
        if method is None:
            form.add_error("code", WRONG_CODE)
            confirmed = False
    if not confirmed:
        sign_in.attempts_record(request, group=sign_in.FAILED_REAUTH, user=user)
    return confirmed


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_disable(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    if not two_factor.enabled_for(user):
        return redirect("accounts:settings")
    form = forms.ConfirmItIsYouForm(user, request.POST or None)
    if request.method == "POST" and _confirmed_it_is_you(request, form):
        two_factor.disable(user=user, ip_address=client_ip(request))
        messages.success(request, _("Two-factor sign-in is off. Your password alone signs you in."))
        return redirect("accounts:settings")
    return render(request, "accounts/two_factor_disable.html", {"form": form})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_recovery_codes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """New recovery codes for old ones, after the password (or a code)."""
    user = request.user
    if not two_factor.enabled_for(user):
        return redirect("accounts:settings")
    form = forms.ConfirmItIsYouForm(user, request.POST or None)
    if request.method == "POST" and _confirmed_it_is_you(request, form):
        codes = two_factor.recovery_codes_renew(user=user, ip_address=client_ip(request))
        return _recovery_codes_page(request, codes)
    context = {"form": form, "codes_left": two_factor.recovery_codes_left(user)}
    return render(request, "accounts/two_factor_recovery_renew.html", context)


# Changing the e-mail address ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Ask for a new address with the password; a link goes to the new address."""
    user = request.user
    if not user.has_usable_password():
        # The password is what proves that a change is its owner's, not a borrowed session's.
        return render(request, "accounts/email_change.html", {"needs_password": True})
    form = forms.EmailChangeForm(user, request.POST or None)
    if request.method == "POST":
        sign_in.attempts_check(request, group=sign_in.FAILED_REAUTH, user=user)
        if form.is_valid():
            new_email = form.cleaned_data["new_email"]
            services.user_email_change_request(
                user=user, new_email=new_email, ip_address=client_ip(request)
            )
            messages.success(
                request,
                _(
                    "We sent a link to %(new_email)s. Your address stays %(email)s until you "
                    "open it (within a day)."
                )
                % {"new_email": new_email, "email": user.email},
            )
            return redirect("accounts:settings")
        if form.has_error("password"):
            sign_in.attempts_record(request, group=sign_in.FAILED_REAUTH, user=user)
    return render(request, "accounts/email_change.html", {"form": form})


@never_cache
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link sent to the new address: the address changes now, and every other session ends."""
    found = tokens.email_change_from_token(token)
    if found is None:
        return render(request, "accounts/email_change_invalid.html", status=400)
    user, new_email = found
    try:
        if selectors.user_exists(email=new_email):
            raise services.EmailTaken(new_email)
        services.user_email_change_confirm(
            user=user, new_email=new_email, ip_address=client_ip(request)
        )
    except services.EmailTaken:
        context = {"new_email": new_email}
        return render(request, "accounts/email_change_taken.html", context, status=409)
    if request.user.is_authenticated and request.user.pk == user.pk:
        update_session_auth_hash(request, user)
        messages.success(
            request, _("Your e-mail address is now %(email)s.") % {"email": user.email}
        )
        return redirect("accounts:settings")
    messages.success(
        request, _("Your e-mail address is now %(email)s. Log in with it.") % {"email": user.email}
    )
    return redirect("accounts:login")
