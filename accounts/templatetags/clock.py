"""``{% load clock %}``: times of day on the reader's clock (``multical.lib.clock``), in the active
time zone and language: ``{{ moment|hm }}`` gives "14:30" or "2:30 pm"; ``{{ moment|day_hm:"D j M" }}``
the day in that date format, then the time: "Mon 7 Dec, 14:30"; ``{{ moment|ago }}`` how long ago
it was: "3 hours ago", "vor 3 Stunden"."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation
from django.utils.timesince import timesince
from django.utils.translation import gettext, npgettext_lazy

from multical.lib.clock import time_label

register = template.Library()

# Django's own units, in the case "ago" takes (German says "vor 3 Tagen", not "vor 3 Tage").
AGO_UNITS = {
    "year": npgettext_lazy("ago", "%(num)d year", "%(num)d years", "num"),
    "month": npgettext_lazy("ago", "%(num)d month", "%(num)d months", "num"),
    "week": npgettext_lazy("ago", "%(num)d week", "%(num)d weeks", "num"),
    "day": npgettext_lazy("ago", "%(num)d day", "%(num)d days", "num"),
    "hour": npgettext_lazy("ago", "%(num)d hour", "%(num)d hours", "num"),
    "minute": npgettext_lazy("ago", "%(num)d minute", "%(num)d minutes", "num"),
}


@register.filter(expects_localtime=True)
def hm(moment: datetime | None) -> str:
    if not isinstance(moment, datetime):
        return ""
    language = translation.get_language() or "en"
    return time_label(moment, timezone.get_current_timezone(), language=language)


@register.filter(expects_localtime=True)
def day_hm(moment: datetime | None, day_format: str = "D j M Y") -> str:
    if not isinstance(moment, datetime):
        return ""
    return f"{date_filter(moment, day_format)}, {hm(moment)}"


@register.filter
def ago(moment: datetime | None) -> str:
    """How long before now ``moment`` was, as a phrase: "2 days, 3 hours ago"."""
    if not isinstance(moment, datetime):
        return ""
    # Django's own function is typed for plain strings; lazy ones format alike, when asked.
    units = cast(dict[str, str], AGO_UNITS)
    return gettext("%(time)s ago") % {"time": timesince(moment, time_strings=units)}
