from django.apps import AppConfig


class SyncrulesConfig(AppConfig):
    name = "syncrules"
    default_auto_field = "django.db.models.BigAutoField"
