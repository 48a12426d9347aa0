"""The owner's side walked in German at a phone's width: German words are long, and every page
must still fit 390 px without sideways scrolling or cut text, pass axe-core, and really be German.

The walk of tests/e2e/test_page_walk.py with its stops and checks, but for the pages owners read
(the attendees' booking pages have their own language tests): the anonymous ones in a German
browser, the signed-in ones for an owner who chose German in Settings. The stops that type into
forms find their fields by name here, not by their English labels.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from accounts import two_factor
from tests.e2e.test_page_walk import (
    ANONYMOUS_STOPS,
    OWNER_STOPS,
    Stop,
    Walk,
    _csrf_refused,
    _sign_in,
    _two_factor_code,
    make_walk,
    walk_through,
)
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_by_field_names(page: Page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.locator("main input[name=username]").fill(email)
    page.locator("main input[name=password]").fill(password)
    page.locator("main form button[type=submit]").first.click()


def _sign_in_german(page: Page, walk: Walk) -> Any:
    log_in_by_field_names(page, walk.owner.email, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard/"))


def _two_factor_code_german(page: Page, walk: Walk) -> Any:
    device = two_factor.pending_setup(user=walk.owner)
    assert device is not None
    secret = two_factor.setup_details(device)[0].replace(" ", "")
    walk.recovery_codes = (
        two_factor.enable(device=device, code=pyotp.TOTP(secret).now(), ip_address=None) or []
    )
    page.context.clear_cookies()
    log_in_by_field_names(page, walk.owner.email, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(walk.reverse("accounts:login_two_factor")))


def _csrf_refused_german(page: Page, walk: Walk) -> Any:
    page.goto(walk.reverse("accounts:password_reset"))
    page.context.clear_cookies()
    page.locator("main input[name=email]").fill("someone@example.com")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".error-page__code")).to_have_text("403")


Step = Callable[[Page, Walk], Any]
GERMAN_STEPS: dict[Step, Step] = {
    _sign_in: _sign_in_german,
    _two_factor_code: _two_factor_code_german,
    _csrf_refused: _csrf_refused_german,
}
# The error pages no request can cause on demand are rendered by Django's handlers outside the
# middleware (see the walk's ``_rendered``): rendered here in German, as a German browser's are.
RENDERED = {"400.html", "403.html", "500.html"}


def in_german(go: Step) -> Step:
    def go_in_german(page: Page, walk: Walk) -> Any:
        with translation.override("de"):
            return go(page, walk)

    return go_in_german


STOPS = [
    dataclasses.replace(
        stop,
        go=in_german(stop.go) if stop.route in RENDERED else GERMAN_STEPS.get(stop.go, stop.go),
    )
    for stop in ANONYMOUS_STOPS + OWNER_STOPS
    if not stop.route.startswith("booking_public:")
]


def test_the_stops_cover_the_owner_side_and_type_nothing_in_english():
    routes = {stop.route for stop in STOPS}

    assert {"landing", "accounts:login", "dashboard", "portfolio:portfolio", "404.html"} <= routes
    assert not any(stop.go in GERMAN_STEPS for stop in STOPS)


@pytest.fixture
def walk(radicale_server, live_server, settings) -> Walk:
    return make_walk(radicale_server, live_server, settings)


def speaks_german(page: Page, stop: Stop) -> list[str]:
    language = page.locator("html").get_attribute("lang")
    return [] if language == "de" else [f"{stop.label}: in {language!r}, not German"]


def test_every_owner_page_in_german_fits_a_phone_cuts_no_text_and_passes_axe(browser, walk):
    walk.owner.language = "de"
    walk.owner.save(update_fields=["language"])
    context = browser.new_context(
        base_url=walk.live_url,
        viewport={"width": 390, "height": 844},
        timezone_id="Europe/Berlin",
        locale="de-DE",
    )
    problems = walk_through(context, walk, STOPS, also=speaks_german)

    assert problems == [], f"{len(problems)} problems in German at 390 px:\n" + "\n".join(problems)


BUTTONS = """() => [...document.querySelectorAll(".button")]
  .filter((button) => button.checkVisibility({visibilityProperty: true}))
  .map((button) => {
    const box = button.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(button);
    const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
      .map((r) => Math.round(r.top)));
    return {
      label: button.innerText.trim(), left: box.left, right: box.right, height: box.height,
      spills: button.scrollWidth > button.clientWidth + 1, lines: lines.size,
    };
  })"""


def test_long_german_button_labels_wrap_whole_on_a_small_phone(browser, live_server, owner):
    """Buttons take the room there is: a label too long for the screen goes onto a second,
    balanced line inside its button (never past the screen, never cut, never shortened to fit),
    and the button stays a full touch target."""
    owner.language = "de"
    owner.save(update_fields=["language"])
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 320, "height": 640}, locale="de-DE"
    )
    page = context.new_page()
    seen = []
    try:
        page.goto("/")
        seen += page.evaluate(BUTTONS)
        log_in_by_field_names(page, owner.email, DEFAULT_PASSWORD)
        page.goto("/accounts/settings/")
        seen += page.evaluate(BUTTONS)
    finally:
        context.close()

    labels = {button["label"] for button in seen}
    assert {"Kostenlos registrieren", "Zwei-Faktor-Anmeldung einschalten"} <= labels
    for button in seen:
        assert button["left"] >= -1 and button["right"] <= 321, button
        assert not button["spills"], button
        assert button["height"] >= 40, button
    assert any(button["lines"] >= 2 for button in seen), "no label needed a second line"
