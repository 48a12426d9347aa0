"""The project's own health as a codebase: migrations in step, production settings that deploy clean."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

PRODUCTION_ENV = {
    "MULTICAL_ENV": "production",
    "SECRET_KEY": "k" * 20 + "production-secret-key-for-the-check-0123456789",
    "VAULT_SECRET": "a-vault-secret-for-the-check",
    "ALLOWED_HOSTS": "multical.example.com",
    "SITE_URL": "https://multical.example.com",
    "DATABASE_URL": "postgres://multical@db.internal:5432/multical",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_HOST": "smtp.example.com",
    "DEFAULT_FROM_EMAIL": "Multical <noreply@multical.example.com>",
    "OPERATOR_NAME": "Example Calendars Ltd",
    "OPERATOR_CONTACT": "privacy@multical.example.com",
}


# Test-only switches this process may carry (the browser tests set the async one).
NOT_IN_PRODUCTION = {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in PRODUCTION_ENV and key not in NOT_IN_PRODUCTION
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "multical.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrations_are_in_step_with_the_models(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_the_deploy_check_is_clean_under_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "VAULT_SECRET",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "EMAIL_HOST",
        "OPERATOR_NAME",
        "OPERATOR_CONTACT",
    ],
)
def test_production_refuses_to_start_without_each_required_variable(missing):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert f"Set the environment variable {missing}" in result.stderr


def test_production_cookies_are_secure_only():
    script = "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.DEBUG)"
    result = run_manage("shell", "--verbosity", "0", "-c", script, env=PRODUCTION_ENV)
    assert result.stdout.split() == ["True", "True", "False"], result.stderr


def test_static_files_collect_for_production(tmp_path):
    result = run_manage(
        "collectstatic", "--noinput", env={**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path)}
    )

    assert result.returncode == 0, result.stderr
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "css/multical.css" in manifest
    assert list(tmp_path.glob("css/multical.*.css.gz"))
