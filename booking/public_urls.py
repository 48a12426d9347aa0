from django.urls import path

from booking import public_views

app_name = "booking_public"

urlpatterns = [
    path("book/<slug:handle>/", public_views.profile, name="profile"),
    path(
        "book/<slug:handle>/picture/<slug:digest>.webp",
        public_views.picture,
        name="picture",
    ),
    path("book/<slug:handle>/<str:slug>/", public_views.page, name="page"),
    path("book/<slug:handle>/<str:slug>/new/", public_views.book, name="book"),
    path(
        "book/<slug:handle>/<str:slug>/booked/<uuid:booking_id>/",
        public_views.booked,
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
        public_views.reschedule,
        name="reschedule",
    ),
]
