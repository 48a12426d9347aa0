"""Deleting an account in a real browser: Settings → Delete account, the password, and a real
worker that removes the blocks from a Radicale calendar and then the account."""

import re
import time

import pytest
from playwright.sync_api import expect

from accounts.models import User
from syncrules.models import Block
from tests.e2e.conftest import log_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.syncrules.world import make_world, soon

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_deleting_an_account_through_settings(page, radicale_server, celery_worker_process):
    user = UserFactory(email="leaving@example.com")
    world = make_world(radicale_server, user, ["personal", "work"])
    world.put("personal", "dentist", soon(2, 10), title="Dentist")
    world.rule(["personal"], ["work"])
    world.sync("personal")
    assert len(world.blocks("work")) == 1
    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Delete account").click()
    expect(page.get_by_role("heading", name="Delete your account?")).to_be_visible()
    expect(page.get_by_label("Remove the blocks Multical made in my calendars")).to_be_checked()
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("That is not your password.")).to_be_visible()
    assert User.objects.get(id=user.id).is_active

    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Delete my account").click()

    expect(page.get_by_text("Your account is closed")).to_be_visible()
    expect(page.get_by_role("heading", name="All your calendars, in step.")).to_be_visible()
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))

    deadline = time.monotonic() + 30
    while User.objects.filter(id=user.id).exists():
        assert time.monotonic() < deadline, "the worker did not delete the account within 30 s"
        time.sleep(0.2)
    assert not Block.objects.exists()
    assert world.blocks("work") == []
    assert [str(event["UID"]) for event in world.own_events("personal")] == ["dentist"]

    log_in(page, user.email, DEFAULT_PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
