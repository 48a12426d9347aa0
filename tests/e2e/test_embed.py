"""A booking page embedded in another website, in a real browser: the host page is served from
``localhost`` and the live server from ``127.0.0.1``, two sites, so the browser applies to the
frame what it applies to any third-party frame (no SameSite=Lax cookies, frame-ancestors).

The host page includes our script as the snippet says; the frame sizes itself, the name and
e-mail given on the host page fill the form, a time is booked inside the frame, and the host page
hears of it. Pages that are not the embedded booking flow refuse to be shown in the frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import Frame, Page, expect

from booking.models import Booking, BookingPage
from tests.booking.pages import make_host
from tests.e2e.conftest import log_in
from tests.e2e.test_page_walk import AXE_RUN, FAILING_IMPACTS, OVERFLOW, axe_source
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The host page: records what it hears, the DOM event and the raw messages of our origin.
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ada's practice</title>
<script>
  window.heard = [];
  window.messages = [];
  document.addEventListener("multical:booked", (event) => window.heard.push(event.detail));
  window.addEventListener("message", (event) => window.messages.push(
    {origin: event.origin, type: event.data && event.data.type}));
</script></head>
<body><h1>Ada's practice</h1>
{body}
</body></html>"""


class HostSite:
    """Pages of "another website", served on localhost: ``pages`` maps a path to its body."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                content = HOST_PAGE.replace("{body}", body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}"

    def serve(self, path: str, body: str) -> str:
        self.pages[path] = body
        return self.url + path


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture
def browser_page(browser, live_server, settings) -> Iterator[Page]:
    settings.SITE_URL = live_server.url
    context = browser.new_context(
        base_url=live_server.url, timezone_id="Europe/Berlin", locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def snippet(live_url: str, path: str, mode: str = "inline", extra: str = "") -> str:
    return (
        f'<a href="{live_url}{path}" data-multical-embed="{mode}"{extra}>Book a time with Ada</a>'
        f'\n<script src="{live_url}/static/booking/embed.js" defer></script>'
    )


def booking_frame(page: Page) -> Frame:
    element = page.locator("iframe").first.element_handle()
    frame = element.content_frame() if element else None
    assert frame is not None
    return frame


def frame_height(page: Page) -> int:
    return int(page.locator("iframe").first.evaluate("(f) => f.getBoundingClientRect().height"))


def test_a_site_embeds_a_page_books_in_it_and_hears_of_the_booking(
    browser_page, live_server, host_site, radicale_server, owner
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    url = host_site.serve(
        "/practice.html",
        snippet(
            live_server.url,
            host.path,
            extra=' data-name="Grace Hopper" data-email="grace@example.com"',
        ),
    )
    page = browser_page

    page.goto(url)

    frame_element = page.locator("iframe")
    expect(frame_element).to_have_attribute("title", "Book a time with Ada")
    frame = booking_frame(page)
    expect(frame.get_by_role("heading", name="Intro call")).to_be_visible()
    # The frame takes the height of its content, whatever it was made with (640 px).
    page.wait_for_function(
        "() => document.querySelector('iframe').style.height !== '640px'", timeout=15_000
    )
    content = frame.evaluate("() => Math.ceil(document.body.getBoundingClientRect().height)")
    assert abs(frame_height(page) - content) <= 2
    assert page.evaluate("document.scrollingElement.scrollWidth") <= page.viewport_size["width"]

    frame.locator(".booking-picker__times a").first.click()
    expect(frame.get_by_label("Your name")).to_have_value("Grace Hopper")
    expect(frame.get_by_label("E-mail address")).to_have_value("grace@example.com")
    assert "embed=1" in frame.url and "csrftoken" not in str(page.context.cookies())
    frame.get_by_role("button", name="Book this time").click()
    expect(frame.get_by_role("heading", name="You are booked")).to_be_visible()
    page.wait_for_function("() => window.heard.length === 1")

    booking = Booking.objects.get()
    assert booking.attendee_name == "Grace Hopper"
    heard = page.evaluate("window.heard")
    assert heard == [
        {
            "id": str(booking.id),
            "start": f"{booking.start:%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{booking.end:%Y-%m-%dT%H:%M:%SZ}",
            "duration": 30,
            "page": "intro",
        }
    ]
    messages = page.evaluate("window.messages")
    assert {message["origin"] for message in messages} == {live_server.url}
    assert {message["type"] for message in messages} == {"multical:resize", "multical:booked"}
    # The booking's own page leaves the frame: it opens in a tab of its own.
    manage = frame.get_by_role("link", name="Cancel or reschedule")
    expect(manage).to_have_attribute("target", "_blank")


@pytest.mark.parametrize("mode", ["popup", "floating"])
def test_a_button_opens_the_page_in_a_dialog(
    browser_page, live_server, host_site, radicale_server, owner, mode
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    page = browser_page
    page.goto(host_site.serve(f"/{mode}.html", snippet(live_server.url, host.path, mode)))

    button = page.get_by_role("link", name="Book a time with Ada")
    if mode == "floating":
        assert button.evaluate("(el) => getComputedStyle(el).position") == "fixed"
    button.click()

    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(booking_frame(page).get_by_role("heading", name="Intro call")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_embedded_page_fits_and_passes_axe_inside_the_frame(
    browser_page, live_server, host_site, radicale_server, owner, width
):
    host = make_host(radicale_server, owner, minimum_notice=24 * 60)
    page = browser_page
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(host_site.serve("/fit.html", snippet(live_server.url, host.path)))
    frame = booking_frame(page)
    expect(frame.get_by_role("heading", name="Intro call")).to_be_visible()

    for step in ("times", "form"):
        if step == "form":
            frame.locator(".booking-picker__times a").first.click()
            expect(frame.get_by_label("Your name")).to_be_visible()
        assert frame.evaluate(OVERFLOW) == [], step
        frame.evaluate(axe_source())
        serious = [v for v in frame.evaluate(AXE_RUN) if v["impact"] in FAILING_IMPACTS]
        assert serious == [], step


def test_pages_that_are_not_the_embedded_flow_refuse_to_be_framed(
    browser_page, live_server, host_site, radicale_server, owner
):
    listed_elsewhere = make_host(
        radicale_server,
        owner,
        embed_on=BookingPage.EmbedOn.LISTED_SITES,
        embed_origins=["https://shop.example.com"],
    )
    page = browser_page
    log_in(page, owner.email, DEFAULT_PASSWORD)  # a session that a frame would show, were it shown
    refused = {
        "log-in": "/accounts/login/",
        "dashboard": "/dashboard/",
        "the booking page on its own": listed_elsewhere.path,
        "a page listing other sites": f"{listed_elsewhere.path}?embed=1",
    }

    for what, path in refused.items():
        headers = requests.get(live_server.url + path, timeout=10).headers
        if what == "a page listing other sites":
            assert "frame-ancestors https://shop.example.com" in headers["Content-Security-Policy"]
            assert "X-Frame-Options" not in headers
        else:
            assert headers["X-Frame-Options"] == "DENY", what
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], what
        frame_page = f'<iframe src="{live_server.url}{path}" title="{what}"></iframe>'
        page.goto(host_site.serve(f"/frame-{len(what)}.html", frame_page))
        page.wait_for_load_state("load")
        frame = booking_frame(page)
        assert not frame.url.startswith(live_server.url), f"{what} was shown: {frame.url}"
        assert "Multical" not in frame.content(), f"{what} was shown in another site's frame"
