from django.urls import path

from booking import public_views, team_public_views

app_name = "booking_public"

urlpatterns = [
    path("book/<slug:handle>/", team_public_views.profile_or_team, name="profile"),
    path(
        "book/<slug:handle>/picture/<slug:digest>.webp",
        public_views.picture,
        name="picture",
    ),
    path("book/<slug:handle>/<str:slug>/", team_public_views.page_or_team, name="page"),
    path("book/<slug:handle>/<str:slug>/new/", team_public_views.book_or_team, name="book"),
    path(
        "book/<slug:handle>/<str:slug>/booked/<uuid:booking_id>/",
        team_public_views.booked_or_team,
        name="booked",
    ),
    path("bookings/<uuid:booking_id>/<str:token>/", public_views.manage, name="manage"),
    path("bookings/<uuid:booking_id>/<str:token>/cancel/", public_views.cancel, name="cancel"),
    path(
        "bookings/<uuid:booking_id>/<str:token>/booking.ics",
        public_views.calendar_file,
        name="calendar_file",
    ),
    path(
        "bookings/<uuid:booking_id>/<str:token>/reschedule/",
        team_public_views.reschedule_or_team,
        name="reschedule",
    ),
]
