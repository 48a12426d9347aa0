from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    name = "calendars"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.billing.plans import Limit, register_limited
        from calendars import plan_limits

        register_limited(Limit.CALENDAR_ACCOUNTS, plan_limits.LIMITED)
