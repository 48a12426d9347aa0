from django.apps import AppConfig


class SyncrulesConfig(AppConfig):
    name = "syncrules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.billing.plans import Limit, register_limited
        from calendars.selectors import register_activity_reader
        from syncrules import plan_limits, receivers, selectors  # noqa: F401 - receivers connect

        register_limited(Limit.RULES, plan_limits.LIMITED)
        # The Calendars page says which calendars are syncing; calendars cannot import syncrules.
        register_activity_reader(selectors.calendar_activity)
