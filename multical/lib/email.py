"""E-mails rendered from a template triple: ``<name>-subject.txt``, ``-body.txt``, ``-body.html``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def send_templated_email(*, to: str, template: str, context: dict[str, Any]) -> None:
    context = {"site_url": settings.SITE_URL, **context}
    # A subject is one line whatever the template's line breaks.
    subject = " ".join(render_to_string(f"{template}-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject, render_to_string(f"{template}-body.txt", context), to=[to]
    )
    message.attach_alternative(render_to_string(f"{template}-body.html", context), "text/html")
    message.send()
