"""The Content-Security-Policy in a real browser: markup injected into a page (an inline script, an
inline event handler, an inline style) does nothing, while the page's own static scripts run, and
no page of ours breaks its own policy, FullCalendar's nonce'd stylesheet included."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.security.world import Names, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Collects the page's CSP violations; Playwright runs it before any script of the page.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.effectiveDirective + " " + event.blockedURI);
});
"""
INJECTED = """
<script>document.body.dataset.injected = "inline script";</script>
<img id="injected-image" src="/no-such-image.png" onerror="document.body.dataset.injected = 'handler'">
<p id="injected-style" style="color: rgb(255, 0, 0)">injected</p>
"""
HOSTILE_TITLE = '<img src=x onerror="document.body.dataset.injected=1">Planning'


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__violations")


def inject_into_html(route: Route) -> None:
    """Serve our page, with its own headers, as if markup had slipped into it."""
    response = route.fetch()
    body = response.text().replace("</main>", INJECTED + "</main>")
    route.fulfill(response=response, body=body)


def test_an_injected_inline_script_does_not_run_and_our_static_script_does(in_browser):
    def scenario(page: Page) -> None:
        page.add_init_script(WATCH_VIOLATIONS)
        page.route("**/accounts/signup/", inject_into_html)

        page.goto("/accounts/signup/")

        # static/js/timezone.js filled in the browser's zone...
        expect(page.locator('input[name="time_zone"]')).to_have_value("Europe/Berlin")
        expect(page.locator("#injected-style")).to_be_visible()
        page.wait_for_function("window.__violations.length >= 3")
        # ...and nothing injected ran or applied.
        assert page.evaluate("document.body.dataset.injected") is None
        color = page.evaluate("getComputedStyle(document.querySelector('#injected-style')).color")
        assert color != "rgb(255, 0, 0)"
        blocked = {violation.split()[0] for violation in violations(page)}
        assert blocked == {"script-src-elem", "script-src-attr", "style-src-attr"}

    in_browser(scenario)


@pytest.fixture
def host(radicale_server):
    """A signed-up user with calendars on Radicale, a rule, a booking page and a booking, and an
    event this week whose title is markup."""
    user = UserFactory(email="csp@example.com", time_zone="UTC")
    tenant = make_tenant(radicale_server, user, Names.marked("csp"), handle="csp-host")
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    tenant.world.put("work", "planning", today, title=HOSTILE_TITLE)
    return tenant


def test_no_page_of_ours_breaks_its_own_policy(in_browser, host):
    def scenario(page: Page) -> None:
        page.add_init_script(WATCH_VIOLATIONS)
        page.set_viewport_size({"width": 1440, "height": 1000})
        public = f"/book/{host.profile.handle}/{host.page.public_slug}/"
        pages = ["/", "/accounts/login/", "/accounts/signup/", "/terms/", "/privacy/", public]
        for path in pages:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            assert violations(page) == [], path
        # static/booking/public.js moved the visitor to their own zone and clock.
        expect(page).to_have_url(re.compile(r"tz=Europe%2FBerlin"))

        log_in(page, "csp@example.com", DEFAULT_PASSWORD)
        signed_in = [
            "/dashboard/",
            "/calendars/",
            "/rules/",
            "/rules/new/",
            f"/rules/{host.rule.id}/",
            "/booking/",
            "/booking/new/",
            f"/booking/{host.page.id}/edit/",
            f"/booking/{host.page.id}/preview/",
            f"/booking/bookings/{host.booking.id}/",
            "/accounts/settings/",
        ]
        for path in signed_in:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            assert violations(page) == [], path

        page.goto("/portfolio/")
        expect(page.locator(".fc-event", has_text="Planning")).to_be_visible()
        # FullCalendar's stylesheet went in with the page's nonce, and applies.
        assert page.evaluate("document.querySelector('style[data-fullcalendar]').nonce") != ""
        assert page.evaluate("getComputedStyle(document.querySelector('.fc')).display") == "flex"
        # The event's title is text, not markup.
        expect(page.locator(".fc-event", has_text='<img src=x onerror="')).to_have_count(1)
        assert page.evaluate("document.body.dataset.injected") is None
        page.wait_for_load_state("networkidle")
        assert violations(page) == []

    in_browser(scenario)


def test_an_attendee_books_under_the_policy(in_browser, host):
    def scenario(page: Page) -> None:
        page.add_init_script(WATCH_VIOLATIONS)

        page.goto(f"/book/{host.profile.handle}/{host.page.public_slug}/")
        expect(page).to_have_url(re.compile(r"tz=Europe%2FBerlin"))
        page.locator(".booking-picker__times a").first.click()
        page.get_by_label("Your name").fill("Grace Guest")
        page.get_by_label("E-mail address").fill("grace@example.com")
        page.get_by_role("button", name="Book this time").click()

        expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
        assert violations(page) == []

    in_browser(scenario)
