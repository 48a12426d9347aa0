from django.urls import path

from calendars import views

app_name = "calendars"

urlpatterns = [
    path("", views.calendar_list, name="calendar_list"),
    path("status/", views.calendar_list_status, name="calendar_list_status"),
    path("connect/icloud/", views.connect_icloud, name="connect_icloud"),
    path("connect/caldav/", views.connect_caldav, name="connect_caldav"),
    path("connect/ical/", views.connect_ics, name="connect_ics"),
    path(
        "connections/<uuid:connection_id>/credentials/",
        views.connection_credentials,
        name="connection_credentials",
    ),
    path(
        "connections/<uuid:connection_id>/disconnect/",
        views.connection_disconnect,
        name="connection_disconnect",
    ),
    path(
        "connections/<uuid:connection_id>/remove/",
        views.connection_remove,
        name="connection_remove",
    ),
]
