from django.contrib import admin
from django.urls import include, path

from accounts.billing.webhooks import stripe_webhook
from calendars.webhooks.google import google_notification
from calendars.webhooks.microsoft import graph_lifecycle, graph_notification
from calendars.webhooks.zoom import zoom_notification
from multical import metrics_endpoint, views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("health/", views.health_check, name="health"),
    # Prometheus' scraper, with the metrics token (METRICS_TOKEN): a 404 for anyone else.
    path("metrics", metrics_endpoint.metrics, name="metrics"),
    path("terms/", views.legal_document, {"template_name": "legal/terms.html"}, name="terms"),
    path("privacy/", views.legal_document, {"template_name": "legal/privacy.html"}, name="privacy"),
    path("permissions/", include("multical.permissions")),
    path("accounts/oauth/", include("accounts.oauth_urls")),
    path("accounts/settings/webhooks/", include("webhooks.urls")),
    path("accounts/settings/api-keys/", include("api.settings_urls")),
    path("accounts/settings/", include("lifecycle.urls")),
    path("accounts/", include("accounts.urls")),
    path("billing/", include("accounts.billing.urls")),
    path("calendars/oauth/", include("calendars.oauth_urls")),
    path("calendars/", include("calendars.urls")),
    path("rules/", include("syncrules.urls")),
    path("booking/", include("booking.urls")),
    path("portfolio/", include("portfolio.urls")),
    path("orgs/", include("console.urls")),
    # The REST API (personal API keys only, never a session) and its reference.
    path("api/", include("api.urls")),
    path("", include("booking.public_urls")),
    # Push notifications from the providers: verified, answered at once, never a session.
    path("hooks/google/", google_notification, name="google_notification"),
    path("hooks/microsoft/", graph_notification, name="microsoft_notification"),
    path("hooks/microsoft/lifecycle/", graph_lifecycle, name="microsoft_lifecycle"),
    path("hooks/zoom/", zoom_notification, name="zoom_notification"),
    path("hooks/stripe/", stripe_webhook, name="stripe_webhook"),
    path("admin/", admin.site.urls),
]
