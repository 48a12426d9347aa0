from django.urls import URLPattern, path

from console import policy_views

urlpatterns: list[URLPattern] = [
    path("<uuid:organization_id>/policies/", policy_views.policy_settings, name="policies"),
]
