"""The zero-setup default (SQLite, with a worker and beat beside the web server) files
every handoff: several people file at once while a real Celery worker delivers
notifications, and nobody gets "database is locked" (issue 11: 1 filing in 5 did).

SQLite only (PostgreSQL has row locks and never had the problem). The test database is a
file here (tests/conftest.py), as `make run`'s is: WAL, immediate transactions and the
busy timeout of settings.py are what is under test."""

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from apps.handoffs import services as handoff_services
from apps.handoffs.models import Handoff
from apps.notifications import services as notifications
from apps.notifications.models import Channel, Notification, Status
from apps.teams.models import Role
from olaportal.celery import app as celery_app
from tests.factories import AgreementFactory, MembershipFactory, UserFactory
from tests.helpers import TRIAGE

pytestmark = [
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
        reason="SQLite's locking only: PostgreSQL locks rows",
    ),
]

THREADS = 4
FILINGS_EACH = 6
NOTIFICATIONS = 12


@pytest.fixture(autouse=True)
def _local_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_the_connection_is_the_one_make_run_uses():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 1  # NORMAL
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_filings_from_several_threads_while_a_worker_delivers_have_no_errors(
    provider_team, requesting_team
):
    agreement = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    requesters = [
        MembershipFactory(team=requesting_team, user=UserFactory(username=f"req{n}")).user
        for n in range(THREADS)
    ]
    lead = MembershipFactory(
        team=provider_team,
        user=UserFactory(username="lead", email="lead@example.com"),
        role=Role.LEAD,
    ).user
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)

    def file(requester):
        try:
            start.wait()
            for n in range(FILINGS_EACH):
                handoff_services.handoff_create(
                    actor=requester,
                    agreement=agreement,
                    title=f"Filed by {requester.username} #{n}",
                    priority="P2",
                    triage=TRIAGE,
                    now=timezone.now(),
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def notify():
        # What the sweep does meanwhile: notifications the worker then delivers (writes).
        try:
            start.wait()
            for n in range(NOTIFICATIONS):
                notifications.notify(
                    kind="breach",
                    title=f"Breach #{n}",
                    body="Demo breach.",
                    url="/",
                    dedup_base=f"concurrency:{n}",
                    recipients=[lead],
                    now=timezone.now(),
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        threads = [threading.Thread(target=file, args=(r,)) for r in requesters]
        threads.append(threading.Thread(target=notify))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        deadline = time.monotonic() + 60
        # The sweep's emails (each filing also tells the lead, by email after the
        # coalescing window: not waited for here).
        emails = Notification.objects.filter(channel=Channel.EMAIL, kind="breach")
        while time.monotonic() < deadline:
            if emails.count() == NOTIFICATIONS and not emails.exclude(status=Status.SENT).exists():
                break
            time.sleep(0.2)

    assert errors == []
    assert Handoff.objects.count() == THREADS * FILINGS_EACH
    assert emails.filter(status=Status.SENT).count() == NOTIFICATIONS
