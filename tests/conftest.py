"""Shared fixtures: personas (provider lead and member, requester, outsider, staff), the
standard Support → Engineering agreement and `file_handoff`, the browser launch settings,
and test hygiene. Plain helpers and constants: tests/helpers.py."""

import os

import pytest
from django.core.cache import cache

from apps.handoffs import services as handoff_services
from apps.teams.models import Role
from tests.factories import (
    PASSWORD,
    AgreementFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)
from tests.helpers import MONDAY_10, TRIAGE
from tests.servers import other_server, smtp_server, webhook_server, worker_processes  # noqa: F401

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses
# to run inside one unless told this is deliberate. Tests only, never in settings.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True, scope="session")
def _private_filesystem_broker(tmp_path_factory):
    """On the zero-setup filesystem broker, give this test run its own folders: a
    developer's `make run` worker (or another test run) must not take our messages."""
    from olaportal.celery import app, ensure_filesystem_broker_folders

    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    root = tmp_path_factory.mktemp("celery")
    options = dict(app.conf.broker_transport_options)
    for key, folder in (
        ("data_folder_in", "queue"),
        ("data_folder_out", "queue"),
        ("processed_folder", "processed"),
        ("control_folder", "control"),
    ):
        options[key] = str(root / folder)
    app.conf.broker_transport_options = options
    ensure_filesystem_broker_folders()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, test in a file like `make run` does (Django would use a shared in-memory
    database): WAL, immediate transactions and the busy timeout only mean something there,
    and several test runs at once each get their own file."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        )


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttling counters live in the cache: one test's sign-ins must not throttle another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at production strength costs most of a second per user on a small machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def provider_team(db):
    return TeamFactory(name="Engineering", slug="engineering")


@pytest.fixture
def requesting_team(db):
    return TeamFactory(name="Support", slug="support")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Finance", slug="finance")


@pytest.fixture
def provider_lead(provider_team):
    return MembershipFactory(
        team=provider_team, user=UserFactory(username="lena"), role=Role.LEAD
    ).user


@pytest.fixture
def provider_member(provider_team):
    return MembershipFactory(team=provider_team, user=UserFactory(username="max")).user


@pytest.fixture
def requester(requesting_team):
    return MembershipFactory(team=requesting_team, user=UserFactory(username="rita")).user


@pytest.fixture
def requester_lead(requesting_team):
    return MembershipFactory(
        team=requesting_team, user=UserFactory(username="rob"), role=Role.LEAD
    ).user


@pytest.fixture
def outsider(other_team):
    return MembershipFactory(team=other_team, user=UserFactory(username="otto")).user


@pytest.fixture
def staff(db):
    return UserFactory(username="stella", is_staff=True, is_superuser=True)


# --- an agreement and its handoffs ------------------------------------------------------


@pytest.fixture
def agreement(provider_team, requesting_team):
    """Active Support → Engineering agreement with the standard tiers (P1/P2 24×7,
    P3/P4 on Engineering's Mon-Fri 09:00-17:00 Berlin calendar)."""
    return AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )


@pytest.fixture
def file_handoff(agreement, requester):
    """`file_handoff(priority="P3", at=MONDAY_10, **extra)`: Rita files a handoff under
    `agreement` through the handoff service."""

    def file(priority="P3", at=MONDAY_10, **extra):
        return handoff_services.handoff_create(
            actor=requester,
            agreement=agreement,
            title="Checkout crashes",
            priority=priority,
            triage=extra.pop("triage", TRIAGE),
            now=at,
            **extra,
        )

    return file


# --- browser tests ----------------------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's chromium. Locally they skip without it; in CI a missing
    browser is a failure, never a silent skip."""
    if os.path.exists(CHROMIUM) or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium (.ci/run)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }
