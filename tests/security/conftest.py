"""Fixtures of the security suite: fresh client addresses, room under the per-page limits, and a
headless Chromium for the browser tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

# Limit counters live in the shared cache for their whole window: a test that counts requests
# gets an address no other test of this process has used.
_addresses = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture
def fresh_address() -> str:
    return next(_addresses)


@pytest.fixture(autouse=True)
def generous_page_limits(settings):
    """The walks below request every page from one address; the limit tests set their own."""
    for name in (
        "BOOKING_BROWSE_RATE",
        "BOOKING_SUBMIT_RATE",
        "PORTFOLIO_FETCH_RATE",
        "SYNC_NOW_RATE",
        "DATA_EXPORT_RATE",
    ):
        setattr(settings, name, "100000/m")


@pytest.fixture
def in_browser(live_server, settings) -> Callable[[Callable[[Page], None]], None]:
    """Run ``scenario(page)`` in a fresh headless Chromium against the live server.

    Playwright's synchronous API allows one instance per thread, and the end-to-end suite keeps
    its session-long one on the main thread: this one lives and ends on a thread of its own.
    """
    settings.SITE_URL = live_server.url

    def run(scenario: Callable[[Page], None]) -> None:
        failure: list[BaseException] = []

        def drive() -> None:
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                    )
                    try:
                        context = browser.new_context(
                            base_url=live_server.url, timezone_id="Europe/Berlin", locale="en-GB"
                        )
                        page = context.new_page()
                        page.set_default_timeout(10_000)
                        scenario(page)
                    finally:
                        browser.close()
            except BaseException as error:  # handed to the test's own thread
                failure.append(error)

        thread = threading.Thread(target=drive, name="security-browser")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]

    return run
