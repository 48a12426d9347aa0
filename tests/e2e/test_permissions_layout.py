"""The permissions page in a real browser: at a phone's width and a laptop's, every scope table fits
its box, and nothing on the page is cut off or needs a sideways scroll."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# Elements of the article that stick out of the viewport, or out of a box that scrolls or hides
# what overflows it (as .table-wrap does), named so a failure says where.
CLIPPED = """() => {
  const viewport = document.documentElement.clientWidth;
  const clipping = (element) => {
    for (let box = element.parentElement; box; box = box.parentElement) {
      const style = getComputedStyle(box);
      if (style.overflowX !== "visible" || style.overflow !== "visible") return box;
    }
    return null;
  };
  const found = [];
  for (const element of document.querySelectorAll("article *")) {
    const r = element.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const box = clipping(element);
    const edge = box ? box.getBoundingClientRect() : {left: 0, right: viewport};
    if (r.left < edge.left - 1 || r.right > edge.right + 1 || r.right > viewport + 1) {
      found.push(`${element.tagName.toLowerCase()}: ${element.textContent.trim().slice(0, 50)}`);
    }
  }
  return found;
}"""

SCROLLING_TABLES = """() => [...document.querySelectorAll(".table-wrap")]
  .filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 1)
  .map((wrap) => wrap.querySelector("table").dataset.flow || wrap.textContent.trim().slice(0, 40))"""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_permissions_page_fits_the_screen_and_cuts_nothing_off(page, settings, width):
    settings.MICROSOFT_CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    page.set_viewport_size({"width": width, "height": 900})

    page.goto("/permissions/")

    assert page.locator("table[data-flow]").count() == 5
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(SCROLLING_TABLES) == []
    assert page.evaluate(CLIPPED) == []
    first_reason = page.locator("table[data-flow] tbody tr td").nth(1)
    box = first_reason.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    assert first_reason.is_visible()
