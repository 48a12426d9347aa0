from django.contrib import admin

from portfolio.models import CalendarPreference


@admin.register(CalendarPreference)
class CalendarPreferenceAdmin(admin.ModelAdmin):
    list_display = ("calendar", "color", "shown", "updated_at")
    raw_id_fields = ("calendar",)
