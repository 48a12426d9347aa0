from django.urls import path

from portfolio import views

app_name = "portfolio"

urlpatterns = [
    path("", views.portfolio, name="portfolio"),
    path("events/", views.events, name="events"),
    path(
        "calendars/<uuid:calendar_id>/",
        views.calendar_preference,
        name="calendar_preference",
    ),
]
