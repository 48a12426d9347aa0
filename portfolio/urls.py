from django.urls import path

from portfolio import views

app_name = "portfolio"

urlpatterns = [
    path("", views.portfolio, name="portfolio"),
    path("events/", views.events, name="events"),
    # One event of one calendar (the event's id, which may hold slashes, goes in the query or form).
    path("calendars/<uuid:calendar_id>/event/", views.event, name="event"),
    path("calendars/<uuid:calendar_id>/event/create/", views.event_create, name="event_create"),
    path("calendars/<uuid:calendar_id>/event/update/", views.event_update, name="event_update"),
    path("calendars/<uuid:calendar_id>/event/move/", views.event_move, name="event_move"),
    path("calendars/<uuid:calendar_id>/event/remove/", views.event_remove, name="event_remove"),
    path("calendars/<uuid:calendar_id>/event/reply/", views.event_reply, name="event_reply"),
    path(
        "calendars/<uuid:calendar_id>/",
        views.calendar_preference,
        name="calendar_preference",
    ),
]
