from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import booking.policy_receivers  # noqa: F401 - receivers connect
        from accounts.billing.plans import Limit, register_limited
        from booking import page_cache, plan_limits, team_receivers

        register_limited(Limit.BOOKING_PAGES, plan_limits.LIMITED)
        page_cache.follow_changes()
        team_receivers.follow_memberships()
