from django.urls import URLPattern, path

from console import admin_views

urlpatterns: list[URLPattern] = [
    path(
        "<uuid:organization_id>/microsoft-consent/",
        admin_views.microsoft_consent,
        name="admin_microsoft_consent",
    ),
]
