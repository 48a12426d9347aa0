from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers of the signals lower layers send.
        from accounts.billing import plans, services
        from orgs import activity, billing, domains, sso  # noqa: F401

        # Pro through an organization's seats, and the Stripe events of its customer.
        plans.register_plan_source(billing.pro_through_an_organization)
        services.register_event_handler(billing.org_stripe_event)
