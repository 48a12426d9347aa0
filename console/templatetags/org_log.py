"""How the organization's activity log page words a line's subject."""

from __future__ import annotations

from django import template

from orgs.activity import subject_label
from orgs.models import OrgEvent

register = template.Library()


@register.filter
def log_subject(event: OrgEvent) -> str:
    return subject_label(event)
