"""End to end on a real Celery worker (Redis in CI): beat's sweep task finds a breached
P1, records it once, and the breach email reaches the engineer."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from apps.handoffs import services
from apps.handoffs.models import EventKind, SweepRun
from apps.notifications.models import Notification
from olaportal.celery import app as celery_app
from tests.helpers import TRIAGE

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def wait_until(condition, seconds: float = 45) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_the_sweep_task_on_a_real_worker_delivers_a_breach_email(
    agreement, requester, provider_member, settings
):
    # Emails about a handoff wait a minute to be folded with what follows
    # (tests/notifications/test_delivery_coalescing.py); here one second will do.
    settings.NOTIFICATION_COALESCE_SECONDS = 1
    handoff = services.handoff_create(
        actor=requester,
        agreement=agreement,
        title="Checkout down",
        priority="P1",  # 30 min to acknowledge, 24×7
        triage=TRIAGE,
        now=timezone.now() - timedelta(minutes=31),
    )

    def breach_emailed():
        return Notification.objects.filter(
            kind="breach", channel="email", recipient=provider_member, status="sent"
        ).exists()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        celery_app.send_task("apps.handoffs.tasks.sweep_clocks")
        assert wait_until(breach_emailed)

    assert handoff.events.filter(kind=EventKind.CLOCK_BREACHED).count() == 1
    assert SweepRun.objects.count() == 1
    breach_mails = [m for m in mail.outbox if "Breached" in m.subject]
    assert [m.to for m in breach_mails] == [[provider_member.email]]
    assert handoff.get_absolute_url() in breach_mails[0].body
