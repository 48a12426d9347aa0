from django.urls import path

from accounts import oauth_views

app_name = "accounts_oauth"

urlpatterns = [
    path("google/", oauth_views.google_sign_in, name="google_sign_in"),
    path("google/callback/", oauth_views.google_sign_in_callback, name="google_sign_in_callback"),
    path("microsoft/", oauth_views.microsoft_sign_in, name="microsoft_sign_in"),
    path(
        "microsoft/callback/",
        oauth_views.microsoft_sign_in_callback,
        name="microsoft_sign_in_callback",
    ),
    path("sign-up/", oauth_views.sign_up, name="sign_up"),
    path("sign-up/cancel/", oauth_views.sign_up_cancel, name="sign_up_cancel"),
]
