"""End to end with a real Celery worker on the configured broker: notify → commit →
the delivery task → the local webhook receiver and SMTP server (tests/servers.py)."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from apps.notifications import delivery
from apps.notifications.models import Channel, Notification, Status
from apps.notifications.queue import DEFAULT_QUEUE, SEND_DUE, WEBHOOK_QUEUE
from olaportal.celery import app as celery_app
from tests.notifications.conftest import send

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

# One worker on both queues, as `make run`'s workers consume them between them.
QUEUES = [DEFAULT_QUEUE, WEBHOOK_QUEUE]


def wait_until(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def sent(channel) -> bool:
    return Notification.objects.filter(channel=channel, status=Status.SENT).exists()


def test_a_real_worker_delivers_email_and_webhook_after_commit(
    alice, hooked_team, webhook_server, smtp_server, settings
):
    settings.NOTIFICATION_COALESCE_SECONDS = 1  # an email waits this long for company
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES
    ):
        send(recipients=[alice], team=hooked_team, now=timezone.now())
        assert wait_until(lambda: sent(Channel.WEBHOOK) and sent(Channel.EMAIL))

    assert len(webhook_server.received) == 1
    (message,) = smtp_server.received()  # through a real SMTP conversation
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "[OLA Portal] Breach: resolve of #7"


def test_a_real_worker_retries_a_500_with_backoff_until_it_is_delivered(
    hooked_team, webhook_server
):
    webhook_server.reply_with((500, 0), (502, 0))
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES
    ):
        send(team=hooked_team, now=timezone.now())
        assert wait_until(lambda: sent(Channel.WEBHOOK))

    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    assert (webhook.attempts, webhook.last_error) == (3, "")
    assert len(webhook_server.received) == 3


def test_a_crashed_claim_is_taken_back_by_the_periodic_sender_and_delivered_once(
    hooked_team, webhook_server
):
    long_ago = timezone.now() - timedelta(minutes=20)
    # No worker yet: the enqueued message waits; then a worker claims and "dies".
    send(team=hooked_team, now=long_ago)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    assert delivery.notification_claim(notification_id=webhook.pk, now=long_ago)

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=QUEUES
    ):
        celery_app.send_task(SEND_DUE, args=(Channel.WEBHOOK,), queue=WEBHOOK_QUEUE)
        assert wait_until(lambda: sent(Channel.WEBHOOK))
        time.sleep(1)  # the original message, consumed late, must find nothing to do

    assert len(webhook_server.received) == 1
