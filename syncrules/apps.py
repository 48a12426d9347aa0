from django.apps import AppConfig


class SyncrulesConfig(AppConfig):
    name = "syncrules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.billing.plans import Limit, register_limited
        from syncrules import plan_limits, receivers  # noqa: F401 - receivers connect themselves

        register_limited(Limit.RULES, plan_limits.LIMITED)
