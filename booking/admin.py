"""Operators' views of profiles, booking pages and bookings.

Owners change their pages on their own pages; here an operator can fix a page's settings, its
owner and calendars stay fixed (the choice would list every user's calendars). Bookings are
records: the admin shows when they are and what became of them, never who booked or what they
wrote, and cannot change or delete them (the owner does, through the services).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from booking.models import Booking, BookingPage, DateOverride, Profile, Question


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["handle", "display_name", "user"]
    search_fields = ["handle", "user__email"]
    readonly_fields = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class DateOverrideInline(admin.TabularInline):
    model = DateOverride
    extra = 0


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0


@admin.register(BookingPage)
class BookingPageAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "slug", "listed", "active", "created_at"]
    list_filter = ["listed", "active", "location"]
    list_select_related = ["owner"]
    search_fields = ["title", "slug", "owner__email"]
    readonly_fields = [
        "id",
        "owner",
        "busy_calendars",
        "write_calendar",
        "created_at",
        "updated_at",
    ]
    exclude = ["secret"]
    inlines = [DateOverrideInline, QuestionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "page", "start", "end", "status"]
    list_filter = ["status", "location"]
    list_select_related = ["owner", "page"]
    date_hierarchy = "start"
    # A tuple, not a list: the stubs then take the one value as both fields and read-only fields.
    fields = (
        "id",
        "owner",
        "page",
        "start",
        "end",
        "status",
        "location",
        "calendar",
        "sequence",
        "meeting_sequence",
        "event_sequence",
        "notified_sequence",
        "follow_up_problems",
        "cancelled_at",
        "cancelled_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
