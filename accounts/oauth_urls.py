from django.urls import path

from accounts import oauth_views

app_name = "accounts_oauth"

urlpatterns = [
    path("google/", oauth_views.google_sign_in, name="google-sign-in"),
    path("google/callback/", oauth_views.google_sign_in_callback, name="google-sign-in-callback"),
    path("microsoft/", oauth_views.microsoft_sign_in, name="microsoft-sign-in"),
    path(
        "microsoft/callback/",
        oauth_views.microsoft_sign_in_callback,
        name="microsoft-sign-in-callback",
    ),
    path("sign-up/", oauth_views.sign_up, name="sign-up"),
    path("sign-up/cancel/", oauth_views.sign_up_cancel, name="sign-up-cancel"),
]
