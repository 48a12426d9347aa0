from django.urls import URLPattern, path

from console import domain_views

urlpatterns: list[URLPattern] = [
    path("<uuid:organization_id>/domains/", domain_views.domain_list, name="domain_list"),
    path(
        "<uuid:organization_id>/domains/<uuid:domain_id>/",
        domain_views.domain_detail,
        name="domain",
    ),
    path(
        "<uuid:organization_id>/domains/<uuid:domain_id>/check/",
        domain_views.domain_check,
        name="domain_check",
    ),
    path(
        "<uuid:organization_id>/domains/<uuid:domain_id>/capture/",
        domain_views.domain_capture,
        name="domain_capture",
    ),
    path(
        "<uuid:organization_id>/domains/<uuid:domain_id>/remove/",
        domain_views.domain_remove,
        name="domain_remove",
    ),
]
