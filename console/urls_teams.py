from django.urls import URLPattern, path

from console import team_embed_views, team_views

urlpatterns: list[URLPattern] = [
    path("<uuid:organization_id>/teams/", team_views.team_pages, name="team_pages"),
    path("<uuid:organization_id>/teams/new/", team_views.team_page_create, name="team_page_create"),
    path(
        "<uuid:organization_id>/teams/<uuid:page_id>/",
        team_views.team_page_edit,
        name="team_page_edit",
    ),
    path(
        "<uuid:organization_id>/teams/<uuid:page_id>/delete/",
        team_views.team_page_delete,
        name="team_page_delete",
    ),
    path(
        "<uuid:organization_id>/teams/<uuid:page_id>/mine/",
        team_views.team_page_mine,
        name="team_page_mine",
    ),
    path(
        "<uuid:organization_id>/teams/<uuid:page_id>/embed/",
        team_embed_views.team_page_embed,
        name="team_page_embed",
    ),
]
