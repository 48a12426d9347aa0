from django.urls import path

from console import (
    urls_admin,
    urls_billing,
    urls_domains,
    urls_policies,
    urls_sso,
    urls_teams,
    views,
)

app_name = "console"

urlpatterns = [
    path("", views.organization_list, name="organization_list"),
    path("new/", views.organization_create, name="organization_create"),
    path("join/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("<uuid:organization_id>/", views.organization_detail, name="organization"),
    path("<uuid:organization_id>/invite/", views.invitation_create, name="invitation_create"),
    path(
        "<uuid:organization_id>/invitations/<uuid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("<uuid:organization_id>/members/<uuid:user_id>/", views.member_detail, name="member"),
    path(
        "<uuid:organization_id>/members/<uuid:user_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("<uuid:organization_id>/leave/", views.organization_leave, name="leave"),
    path(
        "<uuid:organization_id>/settings/",
        views.organization_settings,
        name="organization_settings",
    ),
    path("<uuid:organization_id>/delete/", views.organization_delete, name="organization_delete"),
    path("<uuid:organization_id>/log/", views.event_log, name="event_log"),
    # Each part of the console keeps its own routes.
    *urls_domains.urlpatterns,
    *urls_sso.urlpatterns,
    *urls_policies.urlpatterns,
    *urls_admin.urlpatterns,
    *urls_teams.urlpatterns,
    *urls_billing.urlpatterns,
]
