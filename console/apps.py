from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The organization pages: what members see, and the console owners and admins run it from.

    A layer at the top, beside the API: the console reads members' state (connections, rules,
    pages) from the apps that own it, which sit above ``orgs``.
    """

    name = "console"
    verbose_name = "Organization console"
