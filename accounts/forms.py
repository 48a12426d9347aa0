from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.languages import owner_language
from accounts.models import TIME_ZONE_CHOICES, User, normalize_email
from multical.lib.email import send_templated_email

_TIME_ZONES = {name for name, _ in TIME_ZONE_CHOICES}


class LegalConsentForm(forms.Form):
    """What every new account answers: the legal documents (required), product news (optional,
    unticked), and the browser's time zone."""

    # Filled in by the browser's own zone (static/js/timezone.js); UTC without JavaScript.
    time_zone = forms.CharField(required=False, widget=forms.HiddenInput)
    accept_legal = forms.BooleanField(
        error_messages={
            "required": _("You need to accept the Terms of Service and the Privacy Policy.")
        },
    )
    marketing_email = forms.BooleanField(
        label=_("Send me occasional product news by e-mail (optional)"),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accept_legal"].label = format_html(
            gettext(
                'I accept the <a href="{}">Terms of Service</a> and the <a href="{}">Privacy Policy</a>'
            ),
            reverse("terms"),
            reverse("privacy"),
        )

    def clean_time_zone(self) -> str:
        time_zone = self.cleaned_data["time_zone"]
        return time_zone if time_zone in _TIME_ZONES else "UTC"


class SignupForm(LegalConsentForm):
    field_order = ["email", "password"]

    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not a common password."),
    )

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError(
                _(
                    "An account with this e-mail address already exists. Log in, or reset your "
                    "password."
                ),
                code="duplicate_email",
            )
        return email

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        password = cleaned.get("password")
        if password:
            candidate = User(email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class LoginForm(auth_forms.AuthenticationForm):
    username = auth_forms.UsernameField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        "invalid_login": _("That e-mail address and password do not match an account."),
        "inactive": _("This account is disabled."),
        "unverified": _("Please verify your e-mail address first: follow the link we sent you."),
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not user.email_verified:
            raise forms.ValidationError(self.error_messages["unverified"], code="unverified")


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class PasswordResetForm(auth_forms.PasswordResetForm):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def get_users(self, email: str) -> QuerySet[User]:
        """Active accounts with this address, also those without a password yet: an account made
        through Google or Microsoft sets its first password here (Django leaves those out)."""
        return User.objects.filter(
            email=normalize_email(email), is_active=True, deletion_requested_at__isnull=True
        )

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        # Links point at SITE_URL, never at whatever Host header the request carried.
        path = reverse("accounts:password_reset_confirm", args=[context["uid"], context["token"]])
        send_templated_email(
            to=to_email,
            template="accounts/email/password-reset",
            context={"user": context["user"], "reset_url": settings.SITE_URL + path},
            language=owner_language(context["user"], browser=translation.get_language()),
        )


class ProfileForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("The language of your pages and of the e-mails Multical sends you."),
    )
    marketing_email = forms.BooleanField(
        label=_("Send me occasional product news by e-mail"), required=False
    )

    class Meta:
        model = User
        fields = ["language", "time_zone", "week_start", "clock"]
        labels = {"time_zone": _("Time zone")}
        help_texts = {
            "time_zone": _("Times across the dashboard are shown in this zone."),
            "week_start": _("Calendars and week views start on this day."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each language named in itself, as a reader of it looks for it.
        language = self.fields["language"]
        assert isinstance(language, forms.ChoiceField)
        language.choices = [("", _("As my browser says")), *settings.OWNER_LANGUAGES]
        # Left out of a request (an older page, a script): kept as they are.
        for name in ("week_start", "clock"):
            field = self.fields[name]
            assert isinstance(field, forms.TypedChoiceField)  # a model field with choices
            field.required, field.empty_value = False, None

    def clean_language(self) -> str:
        """The chosen language; blank follows the browser. Left out of a request: kept."""
        if self.is_bound and "language" not in self.data:
            return self.instance.language
        language: str = self.cleaned_data["language"]
        return language


class NotificationPreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["notify_reconnect_alerts", "notify_booking_emails", "notify_sync_alerts"]
        help_texts = {
            "notify_booking_emails": _("The people who book you are always e-mailed."),
            "notify_sync_alerts": _(
                "Before removing the blocks of most of a calendar's events at once, Multical reads "
                "the calendar again to make sure they are really gone."
            ),
        }


class DeleteAccountForm(forms.Form):
    """The owner confirms with their password, or, without one (a provider sign-up), by typing
    their e-mail address."""

    remove_blocks = forms.BooleanField(
        label=_("Remove the blocks Multical made in my calendars"),
        required=False,
        initial=True,
        help_text=_("Untick to leave them in your calendars as they are."),
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user.has_usable_password():
            self.fields["password"] = forms.CharField(
                label=_("Your password"),
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
            )
        else:
            self.fields["email"] = forms.CharField(
                label=_("Type your e-mail address to confirm"),
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )
        self.order_fields(["password", "email", "remove_blocks"])

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your password."), code="password_incorrect")
        return password

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if normalize_email(email) != self.user.email:
            raise forms.ValidationError(
                _("That is not the address of this account."), code="email_mismatch"
            )
        return email


class CurrentPasswordField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label=_("Your password"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
            **kwargs,
        )


class TwoFactorCodeForm(forms.Form):
    """A code from the authenticator app, or (where ``recovery`` allows it) a recovery code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    def __init__(self, *args: Any, recovery: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["code"]
        if recovery:
            field.label = _("Code from your authenticator app, or a recovery code")
            field.help_text = _("Six digits, or a recovery code such as abcd-efgh-jkmn.")
        else:
            field.label = _("Code from your authenticator app")
            field.help_text = _("The six digits the app shows for Multical now.")
            field.widget.attrs["inputmode"] = "numeric"


class ConfirmItIsYouForm(forms.Form):
    """Asked before turning two-factor sign-in off or making new recovery codes: the password,
    or, for an account without one (a provider sign-up), a code."""

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user.has_usable_password():
            self.fields["password"] = CurrentPasswordField()
        else:
            self.fields["code"] = TwoFactorCodeForm().fields["code"]

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your password."), code="password_incorrect")
        return password


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(
        label=_("New e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = CurrentPasswordField()

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_new_email(self) -> str:
        email = normalize_email(self.cleaned_data["new_email"])
        if email == self.user.email:
            raise forms.ValidationError(_("That is your address already."), code="same_email")
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError(
                _("Another account uses this address."), code="duplicate_email"
            )
        return email

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your password."), code="password_incorrect")
        return password
