"""Included by the project's urls as ``path("calendars/oauth/", include("calendars.oauth_urls"))``.

The callback paths are registered with each provider as redirect URIs (SITE_URL + path).
"""

from django.urls import path

from calendars import oauth_views

app_name = "calendars_oauth"

urlpatterns = [
    path(
        "google/connect/",
        oauth_views.oauth_connect,
        {"provider": "google"},
        name="google_connect",
    ),
    path(
        "google/callback/",
        oauth_views.oauth_callback,
        {"provider": "google"},
        name="google_callback",
    ),
    path(
        "microsoft/connect/",
        oauth_views.oauth_connect,
        {"provider": "microsoft"},
        name="microsoft_connect",
    ),
    path(
        "microsoft/callback/",
        oauth_views.oauth_callback,
        {"provider": "microsoft"},
        name="microsoft_callback",
    ),
    path("zoom/connect/", oauth_views.zoom_connect, name="zoom_connect"),
    path("zoom/callback/", oauth_views.zoom_callback, name="zoom_callback"),
]
