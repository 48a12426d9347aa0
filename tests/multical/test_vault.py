"""The credential vault (invariant 4): sealed at rest, tamper-evident, bound to its row, rotatable."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.views.debug import ExceptionReporter

from calendars.models import Connection
from multical.lib.vault import (
    VaultError,
    context_for,
    needs_rotation,
    seal,
    seal_json,
    unseal,
    unseal_json,
)

PASSWORD = "correct-horse-battery-staple-caldav-password"
CONTEXT = "calendars.connection.secrets:00000000-0000-0000-0000-000000000001"
SECRET_A = "the-first-vault-secret"
SECRET_B = "the-second-vault-secret"


@pytest.fixture(autouse=True)
def vault_secret(settings):
    settings.VAULT_SECRET = SECRET_A
    settings.VAULT_PREVIOUS_SECRETS = []


def payload_of(token: str) -> bytes:
    encoded = token.split(".")[2]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def token_with_payload(token: str, payload: bytes) -> str:
    version, key_id, _ = token.split(".")
    return f"{version}.{key_id}.{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}"


def make_connection(user, secrets: dict[str, str] | None = None) -> Connection:
    connection = Connection(
        user=user, kind="caldav", label="x", server_url="https://dav.example.com/"
    )
    if secrets is not None:
        connection.secrets = seal_json(secrets, context=context_for(connection, "secrets"))
    connection.save()
    return connection


def rotate() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_vault_key", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# Sealing


def test_a_token_never_contains_the_plaintext():
    token = seal(PASSWORD, context=CONTEXT)

    assert token.startswith("v1.")
    assert PASSWORD not in token
    assert PASSWORD.encode() not in payload_of(token)


def test_the_database_column_holds_only_the_token(owner):
    connection = make_connection(owner, {"password": PASSWORD})

    with db_connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM calendars_connection WHERE id = %s", [connection.pk])
        (stored,) = cursor.fetchone()

    assert stored.startswith("v1.")
    assert PASSWORD not in stored
    assert unseal_json(stored, context=context_for(connection, "secrets")) == {"password": PASSWORD}


def test_sealing_one_value_twice_gives_different_tokens_and_nonces():
    first, second = seal(PASSWORD, context=CONTEXT), seal(PASSWORD, context=CONTEXT)

    assert first != second
    assert payload_of(first)[:12] != payload_of(second)[:12]


@pytest.mark.parametrize(
    "plaintext", ["", "hunter2", "pässwörd ✓ 日本語 🔑", "line\nbreak\x00nul", "x" * 10_000]
)
def test_a_sealed_value_opens_to_exactly_what_was_sealed(plaintext):
    assert unseal(seal(plaintext, context=CONTEXT), context=CONTEXT) == plaintext


def test_json_secrets_round_trip():
    secrets = {"password": PASSWORD, "url": "webcal://example.com/feed.ics?token=é"}

    assert unseal_json(seal_json(secrets, context=CONTEXT), context=CONTEXT) == secrets


def test_a_sealed_value_that_is_not_a_json_object_is_refused_by_unseal_json():
    with pytest.raises(VaultError):
        unseal_json(seal('["a", "list"]', context=CONTEXT), context=CONTEXT)
    with pytest.raises(VaultError):
        unseal_json(seal("not json", context=CONTEXT), context=CONTEXT)


def test_the_key_is_derived_with_scrypt_and_named_by_its_hash():
    token = seal(PASSWORD, context=CONTEXT)
    key = Scrypt(salt=b"multical-vault-v1", length=32, n=2**15, r=8, p=1).derive(SECRET_A.encode())
    payload = payload_of(token)

    assert token.split(".")[1] == hashlib.sha256(key).digest()[:8].hex()
    # Opened here with nothing but AES-GCM, the scrypt key and the context as associated data.
    assert AESGCM(key).decrypt(payload[:12], payload[12:], CONTEXT.encode()) == PASSWORD.encode()


# Tampering and misuse


def test_a_flipped_bit_anywhere_in_the_sealed_bytes_is_detected():
    token = seal(PASSWORD, context=CONTEXT)
    payload = payload_of(token)

    for index in range(len(payload)):
        for bit in range(8):
            damaged = bytearray(payload)
            damaged[index] ^= 1 << bit
            with pytest.raises(VaultError):
                unseal(token_with_payload(token, bytes(damaged)), context=CONTEXT)


# Sealed lengths 28, 29 and 30 bytes: base64 ends with 2, 4 or no spare bits in its last character.
@pytest.mark.parametrize("plaintext", ["", "a", "ab"])
def test_a_flipped_bit_anywhere_in_the_token_text_is_detected(plaintext):
    token = seal(plaintext, context=CONTEXT)

    for index, character in enumerate(token):
        for bit in range(7):
            damaged = token[:index] + chr(ord(character) ^ (1 << bit)) + token[index + 1 :]
            with pytest.raises(VaultError):
                unseal(damaged, context=CONTEXT)


@pytest.mark.parametrize(
    "token", ["", "garbage", "v1..", "v2.0011223344556677.AAAA", "v1.0011223344556677.!!!!"]
)
def test_a_malformed_token_is_refused(token):
    with pytest.raises(VaultError):
        unseal(token, context=CONTEXT)


def test_a_truncated_token_is_refused():
    token = seal(PASSWORD, context=CONTEXT)

    with pytest.raises(VaultError):
        unseal(token[:-4], context=CONTEXT)


def test_a_token_does_not_open_in_another_context():
    token = seal(PASSWORD, context=CONTEXT)

    with pytest.raises(VaultError) as error:
        unseal(token, context=CONTEXT.replace("0001", "0002"))

    assert PASSWORD not in str(error.value)


def test_secrets_copied_to_another_connection_do_not_open_there(owner):
    original = make_connection(owner, {"password": PASSWORD})
    copy = make_connection(owner)
    copy.secrets = original.secrets

    with pytest.raises(VaultError):
        unseal_json(copy.secrets, context=context_for(copy, "secrets"))


def test_the_standard_context_names_the_model_field_and_row(owner):
    connection = make_connection(owner)

    assert context_for(connection, "secrets") == f"calendars.connection.secrets:{connection.pk}"


def test_sealing_needs_a_context():
    with pytest.raises(ValueError):
        seal(PASSWORD, context="")


@pytest.mark.parametrize("secret", ["", None])
def test_a_missing_vault_secret_fails_loudly(settings, secret):
    token = seal(PASSWORD, context=CONTEXT)
    settings.VAULT_SECRET = secret

    with pytest.raises(ImproperlyConfigured):
        seal(PASSWORD, context=CONTEXT)
    with pytest.raises(ImproperlyConfigured):
        unseal(token, context=CONTEXT)


def test_a_token_sealed_under_another_secret_does_not_open(settings):
    token = seal(PASSWORD, context=CONTEXT)
    settings.VAULT_SECRET = SECRET_B

    with pytest.raises(VaultError) as error:
        unseal(token, context=CONTEXT)

    message = str(error.value)
    assert "unknown key" in message
    assert PASSWORD not in message
    assert SECRET_A not in message
    assert SECRET_B not in message


@pytest.mark.parametrize(
    "sealing",
    [
        lambda: seal(PASSWORD, context=CONTEXT),
        lambda: seal_json({"password": PASSWORD}, context=CONTEXT),
    ],
    ids=["seal", "seal_json"],
)
def test_a_failing_seal_keeps_the_plaintext_out_of_error_reports(settings, sealing):
    settings.VAULT_SECRET = ""

    with pytest.raises(ImproperlyConfigured) as caught:
        sealing()

    reporter = ExceptionReporter(None, caught.type, caught.value, caught.tb)
    frames = [
        frame
        for frame in reporter.get_traceback_frames()
        if frame["filename"].endswith("multical/lib/vault.py")
    ]

    assert frames
    for frame in frames:
        assert PASSWORD not in repr(frame["vars"])


# Rotation


def test_a_token_sealed_under_a_previous_secret_still_opens_and_needs_rotation(settings):
    token = seal(PASSWORD, context=CONTEXT)
    assert not needs_rotation(token)

    settings.VAULT_SECRET, settings.VAULT_PREVIOUS_SECRETS = SECRET_B, [SECRET_A]

    assert unseal(token, context=CONTEXT) == PASSWORD
    assert needs_rotation(token)
    assert not needs_rotation(seal(PASSWORD, context=CONTEXT))


def test_rotation_reseals_every_connection_under_the_current_secret(settings, owner, second_user):
    secrets = [{"password": f"{PASSWORD}-{n}"} for n in range(3)] + [
        {"url": "https://example.com/private.ics?token=abc"}
    ]
    connections = [make_connection(owner, s) for s in secrets[:3]]
    connections.append(make_connection(second_user, secrets[3]))
    empty = make_connection(owner)
    settings.VAULT_SECRET, settings.VAULT_PREVIOUS_SECRETS = SECRET_B, [SECRET_A]

    out, _ = rotate()

    assert "calendars.connection: 4 re-sealed, 0 already current, 0 unreadable" in out
    settings.VAULT_PREVIOUS_SECRETS = []
    for connection, expected in zip(connections, secrets, strict=True):
        stored = Connection.objects.get(pk=connection.pk).secrets
        assert not needs_rotation(stored)
        assert unseal_json(stored, context=context_for(connection, "secrets")) == expected
    assert Connection.objects.get(pk=empty.pk).secrets == ""


def test_a_second_rotation_reseals_nothing(settings, owner):
    connection = make_connection(owner, {"password": PASSWORD})
    settings.VAULT_SECRET, settings.VAULT_PREVIOUS_SECRETS = SECRET_B, [SECRET_A]
    rotate()
    after_first = Connection.objects.get(pk=connection.pk).secrets

    out, _ = rotate()

    assert "calendars.connection: 0 re-sealed, 1 already current, 0 unreadable" in out
    assert Connection.objects.get(pk=connection.pk).secrets == after_first


def test_rotation_works_through_batches(settings, owner):
    connections = [make_connection(owner, {"password": f"{PASSWORD}-{n}"}) for n in range(5)]
    settings.VAULT_SECRET, settings.VAULT_PREVIOUS_SECRETS = SECRET_B, [SECRET_A]

    out = io.StringIO()

    call_command("rotate_vault_key", batch_size=2, stdout=out)

    assert "calendars.connection: 5 re-sealed, 0 already current, 0 unreadable" in out.getvalue()

    for connection in connections:
        assert not needs_rotation(Connection.objects.get(pk=connection.pk).secrets)


def test_rotation_locks_the_rows_it_rewrites(settings, owner):
    make_connection(owner, {"password": PASSWORD})
    settings.VAULT_SECRET, settings.VAULT_PREVIOUS_SECRETS = SECRET_B, [SECRET_A]

    with CaptureQueriesContext(db_connection) as queries:
        rotate()

    selects = [
        query["sql"]
        for query in queries
        if query["sql"].startswith("SELECT") and 'FROM "calendars_connection"' in query["sql"]
    ]
    assert selects
    assert all(sql.endswith("FOR UPDATE") for sql in selects)


def test_a_value_no_known_key_opens_is_reported_by_pk_and_fails_the_command(settings, owner):
    settings.VAULT_SECRET = "a-secret-since-lost"
    lost = make_connection(owner, {"password": PASSWORD})
    settings.VAULT_SECRET = SECRET_A
    kept = make_connection(owner, {"password": "the-other-password"})
    settings.VAULT_SECRET, settings.VAULT_PREVIOUS_SECRETS = SECRET_B, [SECRET_A]
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError):
        call_command("rotate_vault_key", stdout=out, stderr=err)

    printed = out.getvalue() + err.getvalue()
    assert "1 re-sealed, 0 already current, 1 unreadable" in printed
    assert str(lost.pk) in printed
    assert PASSWORD not in printed
    assert lost.secrets not in printed
    assert Connection.objects.get(pk=lost.pk).secrets == lost.secrets
    assert not needs_rotation(Connection.objects.get(pk=kept.pk).secrets)


def test_a_damaged_value_under_the_current_key_is_reported_as_unreadable(owner):
    connection = make_connection(owner, {"password": PASSWORD})
    Connection.objects.filter(pk=connection.pk).update(
        secrets=token_with_payload(connection.secrets, bytes(len(payload_of(connection.secrets))))
    )

    with pytest.raises(CommandError):
        rotate()
