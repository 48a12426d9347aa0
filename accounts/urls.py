from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("verify/", views.verify_sent, name="verify_sent"),
    path("verify/resend/", views.resend_verification, name="verify_resend"),
    path("verify/<uidb64>/<token>/", views.verify_email, name="verify_email"),
    path("login/", views.LoginView.as_view(), name="login"),
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
]
