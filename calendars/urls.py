from django.urls import path

from calendars import views

app_name = "calendars"

urlpatterns = [
    path("", views.calendar_list, name="calendar_list"),
    path("connect/icloud/", views.connect_icloud, name="connect-icloud"),
    path("connect/caldav/", views.connect_caldav, name="connect-caldav"),
    path("connect/ical/", views.connect_ics, name="connect-ics"),
    path(
        "connections/<uuid:connection_id>/credentials/",
        views.connection_credentials,
        name="connection-credentials",
    ),
    path(
        "connections/<uuid:connection_id>/disconnect/",
        views.connection_disconnect,
        name="connection-disconnect",
    ),
    path(
        "connections/<uuid:connection_id>/remove/",
        views.connection_remove,
        name="connection-remove",
    ),
]
