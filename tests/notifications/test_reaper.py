"""A delivery whose worker died after claiming is taken back by the periodic sender and
delivered, still once per claim; a last attempt that died is failed for staff to see."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications import delivery
from apps.notifications.models import Channel, Notification, Status
from tests.notifications.conftest import send

pytestmark = pytest.mark.django_db


@pytest.fixture
def crashed(hooked_team):
    """Claimed by a worker that then died: `sending`, claimed long ago, never sent."""
    send(team=hooked_team, now=timezone.now() - timedelta(minutes=20))
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    claimed_at = timezone.now() - timedelta(minutes=10)
    assert delivery.notification_claim(notification_id=webhook.pk, now=claimed_at)
    return webhook


def test_a_crashed_delivery_is_taken_back_and_delivered_exactly_once(crashed, webhook_server):
    now = timezone.now()
    assert delivery.notifications_send_due(now=now).sent == 1
    assert delivery.notifications_send_due(now=now).taken == 0  # a second sender at once
    # The dead worker's message, redelivered by the broker, finds nothing to do.
    assert delivery.notification_deliver(notification_id=crashed.pk) is None

    assert len(webhook_server.received) == 1
    crashed.refresh_from_db()
    assert (crashed.status, crashed.attempts) == (Status.SENT, 2)


def test_a_recent_claim_is_left_to_its_worker(hooked_team, webhook_server):
    send(team=hooked_team, now=timezone.now() - timedelta(minutes=20))
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    delivery.notification_claim(notification_id=webhook.pk, now=timezone.now())
    assert delivery.notifications_send_due(now=timezone.now()).taken == 0
    assert delivery.notification_deliver(notification_id=webhook.pk) is None  # a duplicate
    webhook.refresh_from_db()
    assert webhook.status == Status.SENDING
    assert webhook_server.received == []


def test_a_sent_row_is_never_taken_back(crashed, webhook_server):
    Notification.objects.filter(pk=crashed.pk).update(sent_at=timezone.now())
    assert delivery.notifications_send_due(now=timezone.now()).taken == 0
    assert webhook_server.received == []


def test_a_pending_row_whose_message_was_lost_is_sent_by_the_periodic_sender(
    hooked_team, webhook_server, settings
):
    settings.NOTIFICATION_QUEUE_GRACE = 30
    created = timezone.now()
    send(team=hooked_team, now=created)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)

    # Within the grace its Celery message is expected to deliver it: left alone.
    assert delivery.notifications_send_due(now=created + timedelta(seconds=29)).taken == 0
    result = delivery.notifications_send_due(now=created + timedelta(seconds=31))

    assert (result.taken, result.sent, result.failed) == (1, 1, 0)
    assert len(webhook_server.received) == 1
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts) == (Status.SENT, 1)


def test_a_last_attempt_that_died_with_its_worker_is_failed_for_staff_to_see(crashed):
    Notification.objects.filter(pk=crashed.pk).update(attempts=delivery.MAX_ATTEMPTS)
    assert delivery.notifications_send_due(now=timezone.now()).taken == 0
    crashed.refresh_from_db()
    assert crashed.status == Status.FAILED
    assert crashed.claimed_at is None
    assert "worker stopped while sending" in crashed.last_error
