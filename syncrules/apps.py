from django.apps import AppConfig


class SyncrulesConfig(AppConfig):
    name = "syncrules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from syncrules import receivers  # noqa: F401 - connects the receivers
