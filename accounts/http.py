"""The request type of the views only signed-in users reach."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request whose ``user`` is signed in: the type of a ``@login_required`` view's request.

    For type checkers only: Django never makes one and nothing checks it at run time. The
    decorator is what turns everyone else away, so only a view behind it may take this type.
    """

    user: User
