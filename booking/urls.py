from django.urls import path

from booking import views

app_name = "booking"

urlpatterns = [
    path("", views.page_list, name="page_list"),
    path("profile/", views.profile_edit, name="profile_edit"),
    path("new/", views.page_create, name="page_create"),
    path("new/preview/", views.page_draft_preview, name="page_create_preview"),
    path("<uuid:page_id>/edit/", views.page_edit, name="page_edit"),
    path("<uuid:page_id>/edit/preview/", views.page_draft_preview, name="page_edit_preview"),
    path("<uuid:page_id>/preview/", views.page_preview, name="page_preview"),
    path("<uuid:page_id>/delete/", views.page_delete, name="page_delete"),
    path("bookings/", views.booking_list, name="booking_list"),
    path("bookings/<uuid:booking_id>/", views.booking_detail, name="booking_detail"),
    path("bookings/<uuid:booking_id>/cancel/", views.booking_cancel, name="booking_cancel"),
    path(
        "bookings/<uuid:booking_id>/reschedule/",
        views.booking_reschedule,
        name="booking_reschedule",
    ),
    path("bookings/<uuid:booking_id>/delete/", views.booking_delete, name="booking_delete"),
]
