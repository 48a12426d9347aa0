"""E-mails from template triples: one-line subjects, plain text as typed, attachments."""

from __future__ import annotations

from types import SimpleNamespace

from django.core import mail

from multical.lib.email import Attachment, send_templated_email

TEMPLATE = "calendars/email/needs-reconnect"


def connection(label: str) -> SimpleNamespace:
    return SimpleNamespace(
        label=label,
        kind_label="CalDAV server",
        error_text="The server refused the password.",
    )


def test_the_plain_parts_keep_what_was_typed_and_the_html_is_escaped():
    send_templated_email(
        to="user@example.com",
        template=TEMPLATE,
        context={"connection": connection("O'Brien & <Co>"), "calendars_url": "http://x/"},
    )

    (message,) = mail.outbox
    assert message.to == ["user@example.com"]
    assert message.subject == "Multical can no longer reach O'Brien & <Co>"
    assert "O'Brien & <Co> (CalDAV server)" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "O&#x27;Brien &amp; &lt;Co&gt;" in html
    assert "<Co>" not in html
    assert not message.attachments


def test_attachments_go_with_their_mimetype_and_its_parameters():
    invite = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    send_templated_email(
        to="user@example.com",
        template=TEMPLATE,
        context={"connection": connection("Work"), "calendars_url": "http://x/"},
        attachments=[Attachment("invite.ics", invite, "text/calendar; method=REQUEST")],
    )

    (message,) = mail.outbox
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == ("invite.ics", "text/calendar; method=REQUEST")
    assert content == invite
    part = next(p for p in message.message().walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "invite.ics"
