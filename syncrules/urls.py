from django.urls import path

from syncrules import calendar_views, views

app_name = "syncrules"

urlpatterns = [
    path("", views.rule_list, name="rule_list"),
    path("status/", views.rule_list_status, name="rule_list_status"),
    path("new/", views.rule_create, name="rule_create"),
    path("preview/", views.rule_preview, name="rule_preview"),
    path("block-each-other/", views.block_each_other, name="block_each_other"),
    path("calendars/<uuid:calendar_id>/", calendar_views.calendar_detail, name="calendar_detail"),
    path(
        "calendars/<uuid:calendar_id>/status/",
        calendar_views.calendar_status,
        name="calendar_status",
    ),
    path("<uuid:rule_id>/", views.rule_detail, name="rule_detail"),
    path("<uuid:rule_id>/status/", views.rule_status, name="rule_status"),
    path("<uuid:rule_id>/edit/", views.rule_edit, name="rule_edit"),
    path("<uuid:rule_id>/enabled/", views.rule_set_enabled, name="rule_set_enabled"),
    path("<uuid:rule_id>/delete/", views.rule_delete, name="rule_delete"),
]
