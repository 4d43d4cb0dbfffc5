"""Fixtures for notification tests: delivery settings for tests, two people and a team
whose webhook is the real local receiver (`webhook_server`, tests/servers.py), and a helper
that notifies through the real service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.notifications import services
from tests.factories import TeamFactory, UserFactory

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _notification_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://ola.example.com"
    settings.NOTIFICATION_WEBHOOK_TIMEOUT = 0.5
    settings.NOTIFICATION_RETRY_BACKOFF = 0.2
    settings.NOTIFICATION_CLAIM_TIMEOUT = 300
    # The local receivers (tests/servers.py) listen on 127.0.0.1, which webhooks may not
    # reach by default.
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.com")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", email="bob@example.com")


@pytest.fixture
def hooked_team(db, webhook_server):
    return TeamFactory(name="Engineering", slug="engineering", webhook_url=webhook_server.url)


def send(dedup_base: str = "handoff:7:clock:resolve:step:100:breach", **kwargs):
    """notify() with the arguments a clock sweep would pass, overridable."""
    arguments = {
        "kind": "breach",
        "title": "Breach: resolve of #7",
        "body": "Checkout fails — P2, Support → Engineering.",
        "url": "/handoffs/7/",
        "dedup_base": dedup_base,
        "subject_type": "handoff",
        "subject_id": 7,
        "now": NOW,
        **kwargs,
    }
    return services.notify(**arguments)


def due(notification):
    """When the row's next attempt is due (what its retry message or the periodic sender
    waits for)."""
    notification.refresh_from_db()
    assert notification.next_attempt_at is not None, "no next attempt scheduled"
    return notification.next_attempt_at
