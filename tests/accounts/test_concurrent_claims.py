"""Claims two requests make at the same moment, each on its own database connection as two web
processes would: one authenticator code, one e-mail address. The database decides; each test
holds both requests at the edge of the decision so that they reach it together."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable

import pyotp
import pytest
from django.db import connection as db_connection

from accounts import services, two_factor
from accounts.models import TwoFactor, User
from tests.accounts.test_two_factor import secret_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run ``calls`` in threads of their own (a database connection each) and return what each
    returned or raised, in order."""
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            results[index] = call()
        except BaseException as error:  # compared by the test
            results[index] = error
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results


def test_one_code_sent_twice_at_once_signs_in_once(monkeypatch):
    user = UserFactory(email="twice@example.com")
    device = two_factor.setup_begin(user=user)
    totp = pyotp.TOTP(secret_of(user))
    assert two_factor.enable(device=device, code=totp.at(time.time() - 30), ip_address=None)
    now = time.time()
    code = totp.at(now)
    # Both requests have matched the code before either records its step.
    matched = threading.Barrier(2)
    compare = hmac.compare_digest

    def compare_then_meet(a: str, b: str) -> bool:
        same = compare(a, b)
        if same:
            matched.wait(timeout=10)
        return same

    monkeypatch.setattr(two_factor.hmac, "compare_digest", compare_then_meet)

    def sign_in() -> bool:
        return two_factor.verify_code(device=TwoFactor.objects.get(user=user), code=code)

    assert sorted(at_once(sign_in, sign_in), key=str) == [False, True]
    assert TwoFactor.objects.get(user=user).last_used_step == int(now // two_factor.STEP_SECONDS)


def test_two_accounts_confirming_one_address_at_once_end_with_one_owner(monkeypatch):
    first = UserFactory(email="first@example.com")
    second = UserFactory(email="second@example.com")
    wanted = "wanted@example.com"
    # Both have checked the link and the address; neither has written it yet.
    ready = threading.Barrier(2)
    save = User.save

    def meet_then_save(self: User, *args: object, **kwargs: object) -> None:
        if "email" in (kwargs.get("update_fields") or ()):
            ready.wait(timeout=10)
        save(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(User, "save", meet_then_save)

    def confirm(user: User) -> Callable[[], object]:
        return lambda: services.user_email_change_confirm(
            user=User.objects.get(pk=user.pk), new_email=wanted, ip_address=None
        )

    outcomes = at_once(confirm(first), confirm(second))

    assert sum(isinstance(outcome, services.EmailTaken) for outcome in outcomes) == 1
    assert sum(outcome is None for outcome in outcomes) == 1
    winner = User.objects.get(email=wanted)
    loser = second if winner == first else first
    loser.refresh_from_db()
    assert loser.email in {"first@example.com", "second@example.com"}
    assert loser.email != wanted
