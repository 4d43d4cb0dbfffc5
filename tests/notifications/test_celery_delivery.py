"""End to end with a real Celery worker on the configured broker: notify → commit →
the delivery task → the local webhook server and Django's mail outbox."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from apps.notifications.models import Channel, Notification, Status
from olaportal.celery import app as celery_app
from tests.notifications.conftest import send

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def wait_until(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def sent(channel) -> bool:
    return Notification.objects.filter(channel=channel, status=Status.SENT).exists()


def test_a_real_worker_delivers_email_and_webhook_after_commit(alice, hooked_team, webhook_server):
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        send(recipients=[alice], team=hooked_team, now=timezone.now())
        assert wait_until(lambda: sent(Channel.WEBHOOK) and sent(Channel.EMAIL))

    assert len(webhook_server.received) == 1
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_a_real_worker_retries_a_500_with_backoff_until_it_is_delivered(
    hooked_team, webhook_server
):
    webhook_server.reply_with((500, 0), (502, 0))
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        send(team=hooked_team, now=timezone.now())
        assert wait_until(lambda: sent(Channel.WEBHOOK))

    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    assert (webhook.attempts, webhook.last_error) == (3, "")
    assert len(webhook_server.received) == 3


def test_a_crashed_claim_is_reaped_by_the_periodic_task_and_delivered_once(
    hooked_team, webhook_server
):
    from datetime import timedelta

    from apps.notifications import delivery

    long_ago = timezone.now() - timedelta(minutes=20)
    # No worker yet: the enqueued message waits; then a worker claims and "dies".
    send(team=hooked_team, now=long_ago)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    assert delivery.notification_claim(notification_id=webhook.pk, now=long_ago)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        celery_app.send_task("apps.notifications.tasks.reap_stuck_deliveries")
        assert wait_until(lambda: sent(Channel.WEBHOOK))
        time.sleep(1)  # the original message, consumed late, must find nothing to do

    assert len(webhook_server.received) == 1
