from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("verify/", views.verify_sent, name="verify_sent"),
    path("verify/resend/", views.resend_verification, name="verify_resend"),
    # Under verify/ (before its <uidb64>/<token>/), where the log filter redacts the token.
    path(
        "verify/email-change/<str:token>/",
        views.email_change_confirm,
        name="email_change_confirm",
    ),
    path("verify/<uidb64>/<token>/", views.verify_email, name="verify_email"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.login_two_factor, name="login_two_factor"),
    path("login/code/cancel/", views.login_two_factor_cancel, name="login_two_factor_cancel"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/change/", views.password_change, name="password_change"),
    path("settings/", views.account_settings, name="settings"),
    path(
        "settings/notifications/", views.notification_preferences, name="notification_preferences"
    ),
    path("settings/security/", views.security_log, name="security"),
    path("settings/two-factor/start/", views.two_factor_start, name="two_factor_start"),
    path("settings/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("settings/two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
    path(
        "settings/two-factor/recovery-codes/",
        views.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path("settings/email/", views.email_change, name="email_change"),
]
