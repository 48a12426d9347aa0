"""Two-factor sign-in: setting it up, the second step of every sign-in, recovery codes, turning it
off, and the attacks on each (replay, brute force, skipping the step, older sessions)."""

from __future__ import annotations

import itertools
import time

import pyotp
import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts import sign_in, two_factor
from accounts.models import AuditLog, RecoveryCode, TwoFactor
from multical.lib import vault
from tests.accounts.test_oauth_sign_in import callback, signed_in_as, start
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SECOND_STEP = reverse("accounts:login_two_factor")
DASHBOARD = reverse("dashboard")
SETTINGS = reverse("accounts:settings")

# Failure counters live in the shared cache for their whole window: each client its own address.
_addresses = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture
def client():
    return Client(REMOTE_ADDR=next(_addresses))


def new_client() -> Client:
    return Client(REMOTE_ADDR=next(_addresses))


def secret_of(user) -> str:
    device = TwoFactor.objects.get(user=user)
    return vault.unseal(device.secret, context=vault.context_for(device, "secret"))


def turn_on(user) -> tuple[pyotp.TOTP, list[str]]:
    """Two-factor sign-in on for ``user``, confirmed with the previous step's code so that the
    current step's code is still unused."""
    device = two_factor.setup_begin(user=user)
    totp = pyotp.TOTP(secret_of(user))
    codes = two_factor.enable(device=device, code=totp.at(time.time() - 30), ip_address=None)
    assert codes is not None
    return totp, codes


def log_in(client: Client, user, password: str = DEFAULT_PASSWORD):
    return client.post(LOGIN, {"username": user.email, "password": password})


def enter(client: Client, code: str):
    return client.post(SECOND_STEP, {"code": code})


# Setting it up ------------------------------------------------------------------------------------


def test_setting_up_shows_a_qr_code_and_the_secret_and_is_off_until_a_code_confirms_it(
    client, owner
):
    client.force_login(owner)

    assert client.post(reverse("accounts:two_factor_start")).url == reverse(
        "accounts:two_factor_setup"
    )
    page = client.get(reverse("accounts:two_factor_setup"))
    body = page.content.decode()
    secret = secret_of(owner)

    svg = body.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "<path" in svg and "href" not in svg and "<script" not in svg  # drawn here, no fetch
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in body
    assert "no-store" in page["Cache-Control"]
    assert not two_factor.enabled_for(owner)
    assert log_in(new_client(), owner).url == DASHBOARD  # not on yet


def test_a_wrong_setup_code_leaves_it_off_and_is_audited(client, owner):
    client.force_login(owner)
    client.post(reverse("accounts:two_factor_start"))

    response = client.post(reverse("accounts:two_factor_setup"), {"code": "000000"})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not two_factor.enabled_for(owner)
    failed = AuditLog.objects.get(user=owner, action=AuditLog.Action.TWO_FACTOR_FAILED)
    assert failed.metadata == {"stage": "setup"}


def test_the_right_code_turns_it_on_and_shows_ten_recovery_codes_once(client, owner):
    client.force_login(owner)
    client.post(reverse("accounts:two_factor_start"))
    code = pyotp.TOTP(secret_of(owner)).now()

    response = client.post(reverse("accounts:two_factor_setup"), {"code": code})

    body = response.content.decode()
    assert two_factor.enabled_for(owner)
    codes = [c.split("</code>")[0] for c in body.split("<code>")[1:]]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "no-store" in response["Cache-Control"]
    stored = list(RecoveryCode.objects.filter(user=owner).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(c.replace("-", "") in h or c in h for c in codes for h in stored)
    assert AuditLog.objects.filter(user=owner, action=AuditLog.Action.TWO_FACTOR_ENABLED).exists()
    # Shown once: the setup page is gone, Settings shows only how many are left.
    assert client.get(reverse("accounts:two_factor_setup")).url == SETTINGS
    settings_page = client.get(SETTINGS).content.decode()
    assert "10 unused recovery codes left" in settings_page
    assert codes[0] not in settings_page


def test_the_secret_is_sealed_at_rest_and_bound_to_its_account(owner, second_user):
    turn_on(owner)
    device = TwoFactor.objects.get(user=owner)

    assert device.secret.startswith("v1.")
    assert secret_of(owner) not in device.secret
    with pytest.raises(vault.VaultError):
        vault.unseal(device.secret, context=f"accounts.twofactor.secret:{second_user.pk}")


def test_starting_again_while_on_changes_nothing(client, owner):
    turn_on(owner)
    client.force_login(owner)
    secret = secret_of(owner)

    client.post(reverse("accounts:two_factor_start"))

    assert secret_of(owner) == secret
    assert client.get(reverse("accounts:two_factor_setup")).url == SETTINGS


def test_turning_it_on_signs_out_every_other_session_but_this_one(owner):
    here, elsewhere = new_client(), new_client()
    log_in(here, owner)
    log_in(elsewhere, owner)
    here.post(reverse("accounts:two_factor_start"))

    code = pyotp.TOTP(secret_of(owner)).now()
    here.post(reverse("accounts:two_factor_setup"), {"code": code})

    assert here.get(DASHBOARD).status_code == 200
    assert elsewhere.get(DASHBOARD).status_code == 302


# The second step ----------------------------------------------------------------------------------


def test_a_password_log_in_asks_for_the_code_and_opens_the_account_only_then(client, owner):
    totp, _ = turn_on(owner)

    assert log_in(client, owner).url == SECOND_STEP
    assert client.get(DASHBOARD).status_code == 302
    response = enter(client, totp.now())

    assert response.url == DASHBOARD
    assert client.get(DASHBOARD).status_code == 200
    entry = AuditLog.objects.filter(user=owner, action=AuditLog.Action.LOGIN).get()
    assert entry.metadata == {"method": "password", "second_factor": "totp"}


@pytest.mark.parametrize(
    "name",
    [
        "dashboard",
        "accounts:settings",
        "accounts:security",
        "accounts:password_change",
        "accounts:email_change",
        "accounts:two_factor_disable",
        "accounts:two_factor_recovery_codes",
        "calendars:calendar_list",
        "booking:page_list",
    ],
)
def test_going_straight_to_a_page_skips_nothing(client, owner, name):
    turn_on(owner)
    log_in(client, owner)

    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    assert signed_in_as(client) is None


def test_the_second_step_leads_where_the_login_page_was_to_lead(client, owner):
    totp, _ = turn_on(owner)
    client.post(
        f"{LOGIN}?next={SETTINGS}",
        {"username": owner.email, "password": DEFAULT_PASSWORD, "next": SETTINGS},
    )

    assert enter(client, totp.now()).url == SETTINGS


def test_the_second_step_has_a_session_id_of_its_own(client, owner):
    turn_on(owner)
    client.get(LOGIN)
    client.post(reverse("accounts:verify_resend"), {"email": "someone@example.com"})
    planted = client.cookies["sessionid"].value

    log_in(client, owner)

    assert client.cookies["sessionid"].value != planted
    attacker = new_client()
    attacker.cookies["sessionid"] = planted
    assert attacker.get(SECOND_STEP).url == LOGIN


def test_a_code_cannot_be_used_twice_in_its_time_step(client, owner):
    totp, _ = turn_on(owner)
    with time_machine.travel(time.time(), tick=False):
        code = totp.now()
        log_in(client, owner)
        assert enter(client, code).url == DASHBOARD
        client.post(reverse("accounts:logout"))

        again = new_client()
        log_in(again, owner)
        response = enter(again, code)

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert signed_in_as(again) is None
    assert AuditLog.objects.filter(user=owner, action=AuditLog.Action.TWO_FACTOR_FAILED).exists()


def test_an_older_code_is_refused_once_a_newer_one_was_used(owner):
    totp, _ = turn_on(owner)
    device = TwoFactor.objects.get(user=owner)
    now = time.time()

    assert two_factor.verify_code(device=device, code=totp.at(now), now=now)
    assert not two_factor.verify_code(device=device, code=totp.at(now - 30), now=now)


def test_a_code_from_long_ago_or_far_ahead_is_refused(owner):
    totp, _ = turn_on(owner)
    device = TwoFactor.objects.get(user=owner)
    now = time.time()

    assert not two_factor.verify_code(device=device, code=totp.at(now - 90), now=now)
    assert not two_factor.verify_code(device=device, code=totp.at(now + 90), now=now)


def test_a_failed_code_is_audited_without_the_code(client, owner):
    turn_on(owner)
    log_in(client, owner)

    enter(client, "123456")

    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.TWO_FACTOR_FAILED)
    assert entry.metadata == {"stage": "sign_in"}
    assert "123456" not in str(entry.metadata)


def test_wrong_codes_are_refused_after_the_limit_even_with_the_right_one(client, owner, settings):
    settings.FAILED_ATTEMPTS_RATE = "3/15m"
    totp, _ = turn_on(owner)
    log_in(client, owner)
    for _ in range(3):
        assert enter(client, "000000").status_code == 200

    refused = enter(client, totp.now())

    assert refused.status_code == 429
    assert signed_in_as(client) is None


def test_the_limit_counts_per_account_whatever_the_address(owner, settings):
    settings.FAILED_ATTEMPTS_RATE = "3/15m"
    totp, _ = turn_on(owner)
    for _ in range(3):
        attacker = new_client()
        log_in(attacker, owner)
        enter(attacker, "000000")

    fresh = new_client()
    log_in(fresh, owner)

    assert enter(fresh, totp.now()).status_code == 429


def test_the_second_step_expires(client, owner):
    totp, _ = turn_on(owner)
    log_in(client, owner)

    with time_machine.travel(time.time() + sign_in.PENDING_SECONDS + 1, tick=False):
        response = enter(client, totp.now())

    assert response.url == LOGIN
    assert signed_in_as(client) is None


def test_a_password_changed_meanwhile_ends_the_second_step(client, owner):
    totp, _ = turn_on(owner)
    log_in(client, owner)
    owner.set_password("a brand new passphrase")
    owner.save(update_fields=["password"])

    assert enter(client, totp.now()).url == LOGIN
    assert signed_in_as(client) is None


def test_cancelling_the_second_step_forgets_it(client, owner):
    totp, _ = turn_on(owner)
    log_in(client, owner)

    client.post(reverse("accounts:login_two_factor_cancel"))

    assert enter(client, totp.now()).url == LOGIN


def test_the_second_step_without_a_first_goes_back_to_log_in(client):
    assert client.get(SECOND_STEP).url == LOGIN


def test_a_session_from_before_two_factor_was_turned_on_elsewhere_is_signed_out(owner):
    earlier = new_client()
    log_in(earlier, owner)
    assert earlier.get(DASHBOARD).status_code == 200

    turn_on(owner)  # in another browser

    assert earlier.get(DASHBOARD).status_code == 302


def test_google_sign_in_asks_for_the_code_too(client, google_fake):
    user = UserFactory(email=google_fake.email)
    totp, _ = turn_on(user)

    response = callback(client, "google", google_fake.authorize(start(client, "google")))

    assert response.url == SECOND_STEP
    assert signed_in_as(client) is None
    assert client.get(DASHBOARD).status_code == 302
    assert enter(client, totp.now()).url == DASHBOARD
    entry = AuditLog.objects.get(user=user, action=AuditLog.Action.LOGIN)
    assert entry.metadata == {"provider": "google", "second_factor": "totp"}


def test_microsoft_sign_in_asks_for_the_code_too(client, microsoft_fake):
    user = UserFactory(email="ada@contoso.example")
    turn_on(user)
    account = microsoft_fake.identity.add_user("Ada@Contoso.example")

    response = callback(
        client, "microsoft", microsoft_fake.identity.authorize(start(client, "microsoft"), account)
    )

    assert response.url == SECOND_STEP
    assert signed_in_as(client) is None


# Recovery codes -----------------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once(client, owner):
    _, codes = turn_on(owner)
    log_in(client, owner)

    assert enter(client, codes[0].upper()).url == DASHBOARD
    entry = AuditLog.objects.get(user=owner, action=AuditLog.Action.LOGIN)
    assert entry.metadata == {"method": "password", "second_factor": "recovery_code"}
    used = AuditLog.objects.get(user=owner, action=AuditLog.Action.RECOVERY_CODE_USED)
    assert used.metadata == {"codes_left": 9}

    again = new_client()
    log_in(again, owner)
    assert enter(again, codes[0]).status_code == 200
    assert signed_in_as(again) is None


def test_another_accounts_recovery_code_does_not_work(client, owner, second_user):
    turn_on(owner)
    _, theirs = turn_on(second_user)
    log_in(client, owner)

    assert enter(client, theirs[0]).status_code == 200
    assert signed_in_as(client) is None


def test_new_recovery_codes_need_the_password_and_replace_the_old(client, owner):
    _, old = turn_on(owner)
    client.force_login(owner)
    url = reverse("accounts:two_factor_recovery_codes")

    wrong = client.post(url, {"password": "not it"})
    assert "That is not your password." in wrong.content.decode()
    response = client.post(url, {"password": DEFAULT_PASSWORD})

    new = [c.split("</code>")[0] for c in response.content.decode().split("<code>")[1:]]
    assert len(new) == 10 and not set(new) & set(old)
    assert not two_factor.use_recovery_code(user=owner, code=old[1], ip_address=None)
    assert two_factor.use_recovery_code(user=owner, code=new[1], ip_address=None)
    assert AuditLog.objects.filter(
        user=owner, action=AuditLog.Action.RECOVERY_CODES_RENEWED
    ).exists()


# Turning it off -----------------------------------------------------------------------------------


def test_turning_it_off_needs_the_password(client, owner):
    turn_on(owner)
    client.force_login(owner)
    url = reverse("accounts:two_factor_disable")

    wrong = client.post(url, {"password": "not it"})

    assert wrong.status_code == 200
    assert two_factor.enabled_for(owner)
    assert client.post(url, {"password": DEFAULT_PASSWORD}).url == SETTINGS
    assert not two_factor.enabled_for(owner)
    assert not RecoveryCode.objects.filter(user=owner).exists()
    assert AuditLog.objects.filter(user=owner, action=AuditLog.Action.TWO_FACTOR_DISABLED).exists()
    assert log_in(new_client(), owner).url == DASHBOARD


def test_an_account_without_a_password_turns_it_off_with_a_code(client, owner):
    totp, _ = turn_on(owner)
    owner.set_unusable_password()
    owner.save(update_fields=["password"])
    client.force_login(owner)
    url = reverse("accounts:two_factor_disable")

    assert client.post(url, {"code": "000000"}).status_code == 200
    assert two_factor.enabled_for(owner)
    assert client.post(url, {"code": totp.now()}).url == SETTINGS
    assert not two_factor.enabled_for(owner)


def test_wrong_passwords_when_turning_it_off_are_limited(client, owner, settings):
    settings.FAILED_ATTEMPTS_RATE = "3/15m"
    turn_on(owner)
    client.force_login(owner)
    url = reverse("accounts:two_factor_disable")
    for _ in range(3):
        client.post(url, {"password": "guess"})

    assert client.post(url, {"password": DEFAULT_PASSWORD}).status_code == 429
    assert two_factor.enabled_for(owner)


def test_the_security_log_says_how_each_sign_in_was_proven(client, owner):
    totp, _ = turn_on(owner)
    log_in(client, owner)
    enter(client, "000000")
    enter(client, totp.now())

    body = client.get(reverse("accounts:security")).content.decode()

    assert "with password and an authenticator code" in body
    assert "at sign-in" in body
    assert "Turned on two-factor sign-in" in body
