from django.urls import URLPattern, path

from console import billing_views

urlpatterns: list[URLPattern] = [
    path("<uuid:organization_id>/billing/", billing_views.billing_overview, name="billing"),
    path(
        "<uuid:organization_id>/billing/checkout/",
        billing_views.billing_checkout,
        name="billing_checkout",
    ),
    path(
        "<uuid:organization_id>/billing/portal/",
        billing_views.billing_portal,
        name="billing_portal",
    ),
]
