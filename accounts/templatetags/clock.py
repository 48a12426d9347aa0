"""``{% load clock %}``: times of day on the reader's clock (``multical.lib.clock``), in the active
time zone: ``{{ moment|hm }}`` gives "14:30" or "2:30 pm"; ``{{ moment|day_hm:"D j M" }}`` the
day in that date format, then the time: "Mon 7 Dec, 14:30"."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone

from multical.lib.clock import time_label

register = template.Library()


@register.filter(expects_localtime=True)
def hm(moment: datetime | None) -> str:
    if not isinstance(moment, datetime):
        return ""
    return time_label(moment, timezone.get_current_timezone())


@register.filter(expects_localtime=True)
def day_hm(moment: datetime | None, day_format: str = "D j M Y") -> str:
    if not isinstance(moment, datetime):
        return ""
    return f"{date_filter(moment, day_format)}, {hm(moment)}"
