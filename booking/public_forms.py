"""The form an attendee fills in: who they are and the page's own questions, on a personal page
or a team page alike (both have ``page.questions``)."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.models import BookingPage, QuestionFields, TeamPage


def new_submission_key() -> str:
    return secrets.token_urlsafe(24)


class BookingForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=120)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    # One key per rendered form: a double-click sends it twice and books once.
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, page: BookingPage | TeamPage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autocomplete="name")
        self.fields["email"].widget.attrs.update(autocomplete="email")
        self.questions = list(page.questions.all())
        for question in self.questions:
            self.fields[_field_name(question)] = forms.CharField(
                label=question.label,
                required=question.required,
                max_length=2000 if question.kind == QuestionFields.Kind.LONG else 300,
                widget=forms.Textarea(attrs={"rows": 4})
                if question.kind == QuestionFields.Kind.LONG
                else forms.TextInput,
            )

    def answers(self) -> list[dict[str, str]]:
        """The answers with the questions as they were asked (a page edited later keeps them)."""
        return [
            {"question": question.label, "answer": self.cleaned_data[_field_name(question)]}
            for question in self.questions
            if self.cleaned_data.get(_field_name(question))
        ]


def _field_name(question: QuestionFields) -> str:
    return f"question_{question.pk}"


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional, shared with the other side)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
