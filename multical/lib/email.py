"""E-mails rendered from a template triple: ``<name>-subject.txt``, ``-body.txt``, ``-body.html``.

The subject and the plain-text body are rendered without HTML escaping (a name like
"O'Brien & Co" stays as typed); the HTML body is escaped as every template is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context
from django.template.backends.django import Template as DjangoTemplate
from django.template.loader import get_template, render_to_string
from django.utils import translation


class Attachment(NamedTuple):
    """A file sent with an e-mail; ``mimetype`` may carry parameters
    (``text/calendar; method=REQUEST``)."""

    filename: str
    content: str | bytes
    mimetype: str


def send_templated_email(
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    attachments: Sequence[Attachment] = (),
    language: str | None = None,
) -> None:
    """Render and send ``template`` to ``to``, in ``language`` when given (the recipient's, which
    need not be the language of the request or task sending it), else in the active one."""
    if language is None:
        _send(to=to, template=template, context=context, attachments=attachments)
        return
    with translation.override(language):
        _send(to=to, template=template, context=context, attachments=attachments)


def _send(
    *, to: str, template: str, context: dict[str, Any], attachments: Sequence[Attachment]
) -> None:
    context = {"site_url": settings.SITE_URL, **context}
    # A subject is one line whatever the template's line breaks.
    subject = " ".join(_render_plain(f"{template}-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject, _render_plain(f"{template}-body.txt", context), to=[to]
    )
    message.attach_alternative(render_to_string(f"{template}-body.html", context), "text/html")
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    message.send()


def _render_plain(name: str, context: dict[str, Any]) -> str:
    template = get_template(name)
    # The project's one engine is Django's, whose templates render from a Context that turns
    # autoescaping off.
    assert isinstance(template, DjangoTemplate)
    return template.template.render(Context(context, autoescape=False))
