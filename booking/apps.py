from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.billing.plans import Limit, register_limited
        from booking import page_cache, plan_limits

        register_limited(Limit.BOOKING_PAGES, plan_limits.LIMITED)
        page_cache.follow_changes()
