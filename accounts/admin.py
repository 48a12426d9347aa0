from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm

from accounts.models import Consent, User


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    readonly_fields = ["kind", "granted", "document_version", "recorded_at"]
    can_delete = False


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "email_verified_at", "date_joined", "is_staff"]
    search_fields = ["email"]
    list_filter = ["is_staff", "is_active"]
    readonly_fields = ["date_joined", "last_login", "deletion_requested_at"]
    fieldsets = [
        (None, {"fields": ["email", "password", "email_verified_at", "time_zone"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (
            "Notifications",
            {"fields": ["notify_reconnect_alerts", "notify_booking_emails", "notify_sync_alerts"]},
        ),
        ("Dates", {"fields": ["date_joined", "last_login", "deletion_requested_at"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]},
        )
    ]
    inlines = [ConsentInline]
