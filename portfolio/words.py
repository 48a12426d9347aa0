"""The words of the portfolio page's script (static/portfolio/portfolio.js), in the reader's
language: rendered into the page as data (``json_script``), as the Content-Security-Policy allows
no inline script. ``%(name)s`` marks where the script puts a value. A word said of a count is
given in each of the language's plural categories (CLDR's: "one", "few", "many", "other"…), each
from the catalogue's form for a number of that category; the script picks by ``Intl.PluralRules``,
so a language that counts otherwise than English (Polish, Arabic, Japanese) needs only its
catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from babel import Locale, UnknownLocaleError
from django.utils.translation import get_language, gettext, ngettext, pgettext, to_locale

# Enough numbers to meet every plural category of every language CLDR knows.
_SAMPLES = (*range(0, 200), 1000, 1_000_000)


def _plural(word: Callable[[int], str]) -> dict[str, str]:
    """``word`` (an ``ngettext`` for a count) in each plural category of the active language."""
    return {category: word(number) for category, number in _samples(get_language() or "en")}


@cache
def _samples(language: str) -> tuple[tuple[str, int], ...]:
    """A number of each of ``language``'s plural categories (the first one met)."""
    try:
        rule = Locale.parse(to_locale(language)).plural_form
    except (UnknownLocaleError, ValueError):
        rule = Locale("en").plural_form
    found: dict[str, int] = {}
    for number in _SAMPLES:
        found.setdefault(rule(number), number)
    found.setdefault("other", _SAMPLES[-1])  # the script's fallback (Polish counts have none)
    return tuple(found.items())


def portfolio_words() -> dict[str, str | dict[str, str]]:
    """Every message the script shows, by the name the script uses."""
    return {
        # FullCalendar's own words (its locales are not bundled).
        "today": gettext("Today"),
        "previous": gettext("Previous"),
        "next": gettext("Next"),
        "backToToday": gettext("Back to today"),
        "day": gettext("Day"),
        "sevenDays": gettext("7 days"),
        "week": gettext("Week"),
        "month": gettext("Month"),
        "agenda": gettext("Agenda"),
        "allDayShort": gettext("all day"),
        "noEvents": gettext("No events in this range."),
        "viewHint": gettext("%(view)s view"),
        "navLinkHint": gettext("Go to %(date)s"),
        "close": gettext("Close"),
        "eventHint": gettext("Event"),
        "timeHint": gettext("Time"),
        # The page's own.
        "noTitle": gettext("(no title)"),
        "join": gettext("Join"),
        "joinNamed": gettext("Join %(title)s"),
        "joinMeeting": gettext("Join the meeting"),
        "readOnly": gettext(
            "This calendar is read-only (an iCal link, or shared with you to read): its events "
            "cannot be changed here."
        ),
        "more": _plural(lambda n: ngettext("+%(count)s more", "+%(count)s more", n)),
        "moreOnDay": _plural(
            lambda n: ngettext(
                "%(count)s more event on %(day)s: open the day",
                "%(count)s more events on %(day)s: open the day",
                n,
            )
        ),
        "monthKeys": gettext("Arrow keys go from day to day, Page Up and Page Down by month."),
        "monthAdd": gettext("Enter on a day adds an event that day."),
        "conflicts": _plural(
            lambda n: ngettext("%(count)s event in conflict", "%(count)s events in conflict", n)
        ),
        "conflictNote": gettext("conflict"),
        "loading": gettext("Loading your events…"),
        "tooManyRefreshes": gettext("Too many refreshes: wait a few minutes, then try again."),
        "sessionEndedCalendars": gettext(
            "Your session has ended: log in again to see your calendars."
        ),
        "notLoaded": gettext("Your events could not be loaded."),
        "calendarNotLoaded": gettext("could not be loaded: %(reason)s"),
        "reconnect": gettext("Reconnect"),
        "retry": gettext("Retry"),
        "now": gettext("Now"),
        "allDay": gettext("%(day)s (all day)"),
        "allDayRange": gettext("%(first)s – %(last)s (all day)"),  # noqa: RUF001 - a range
        "unreachable": gettext(
            "Multical could not be reached: check your connection and try again."
        ),
        "sessionEnded": gettext("Your session has ended: log in again."),
        "notAllowed": gettext("This change is not allowed here."),
        "notYours": gettext("This calendar is not yours or no longer connected."),
        "tooManyChanges": gettext("Too many changes at once: wait a minute, then try again."),
        "providerSilent": gettext("The calendar's provider did not answer: try again in a moment."),
        "booking": gettext("Booking"),
        "block": gettext("Block"),
        "blockOf": gettext("Block of “%(rule)s”"),
        "blockShort": gettext("Block · %(rule)s"),
        "conflict": gettext("Conflict"),
        "declined": gettext("Declined"),
        "tentative": gettext("Tentative"),
        "free": pgettext("availability", "Free"),
        "repeats": gettext("Repeats"),
        "openInCalendar": gettext("Open in its calendar"),
        "keeperBlock": gettext(
            "A block your sync rule keeps in step with its source event. Change the source event, "
            "or the rule: "
        ),
        "keeperBooking": gettext(
            "The event of a booking made on your booking page. Reschedule or cancel it from the "
            "booking: "
        ),
        "isNow": gettext("It is now “%(title)s”, %(when)s."),
        "reading": gettext("Reading the event…"),
        "timesIn": gettext("Times in %(zone)s."),
        "somethingWrong": gettext("Something went wrong."),
        "noFollowing": gettext(
            "This calendar's provider cannot change only this and the following events."
        ),
        "newEvent": gettext("New event"),
        "changeEvent": gettext("Change the event"),
        "eventAdded": gettext("Event added."),
        "eventSaved": gettext("Event saved."),
        "changesKept": gettext("Your changes are still here: save again to keep them."),
        "eventDeleted": gettext("Event deleted."),
        "deleteAnyway": gettext("Delete it anyway?"),
        "answerSent": gettext("Your answer was sent."),
        "moving": gettext("Moving…"),
        "moved": gettext("Moved."),
        "movedBack": gettext("Moved back."),
        "notSaved": gettext("Your change could not be saved."),
    }
