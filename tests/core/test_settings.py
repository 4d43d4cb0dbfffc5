"""Settings come from the environment; production variables pass the deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.utils import get_random_secret_key

ROOT = Path(__file__).resolve().parents[2]


def _manage(args, env_overrides):
    # The test run allows async-unsafe ORM calls for Playwright; production never does.
    dropped = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_variables_pass_check_deploy_at_warning_level():
    result = _manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {
            # Django's generated keys may start with "$"; the key is read literally.
            "SECRET_KEY": "$" + get_random_secret_key() + get_random_secret_key(),
            "ALLOWED_HOSTS": "ola.example.com",
            "HTTPS": "true",
            "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite:////tmp/ola-deploy.sqlite3"),
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "EMAIL_URL": "smtp://mail.example.com:25",
            "STATIC_MANIFEST": "true",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_debug_a_missing_secret_key_fails_loudly():
    result = _manage(["check"], {"DEBUG": "false"})
    assert result.returncode != 0
    # One line with the reason, not Django's "Models aren't loaded yet" traceback.
    assert result.stderr.strip().splitlines() == [
        "manage.py: SECRET_KEY is not set. Set SECRET_KEY (production) or DEBUG=true (development)."
    ]


def test_debug_is_off_unless_asked_for():
    result = _manage(
        ["shell", "-c", "from django.conf import settings; print(settings.DEBUG)"],
        {"SECRET_KEY": get_random_secret_key()},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("DATABASE_URL", "django.db.backends.sqlite3"),
        ("CELERY_BROKER_URL", "filesystem://"),
    ],
)
def test_zero_setup_defaults(variable, expected):
    code = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)"
    )
    env = {"DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != variable}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
