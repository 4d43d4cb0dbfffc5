"""A delivery whose worker died after claiming is taken back by the reaper and delivered,
still exactly once."""

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


def test_a_crashed_delivery_is_reaped_and_delivered_exactly_once(
    crashed, webhook_server, django_capture_on_commit_callbacks
):
    now = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        assert delivery.notifications_reap_stuck(now=now) == [crashed.pk]
        assert delivery.notifications_reap_stuck(now=now) == []  # a second reaper at once
    assert len(callbacks) == 1
    crashed.refresh_from_db()
    assert crashed.status == Status.PENDING

    delivery.notification_deliver(notification_id=crashed.pk)  # the re-enqueued task
    delivery.notification_deliver(notification_id=crashed.pk)  # a duplicate message

    assert len(webhook_server.received) == 1
    crashed.refresh_from_db()
    assert crashed.status == Status.SENT
    assert crashed.attempts == 2
    assert delivery.notifications_reap_stuck(now=timezone.now()) == []


def test_a_recent_claim_is_left_to_its_worker(hooked_team):
    send(team=hooked_team, now=timezone.now())
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    delivery.notification_claim(notification_id=webhook.pk, now=timezone.now())
    assert delivery.notifications_reap_stuck(now=timezone.now()) == []
    webhook.refresh_from_db()
    assert webhook.status == Status.SENDING


def test_a_sent_row_is_never_reaped(crashed):
    Notification.objects.filter(pk=crashed.pk).update(sent_at=timezone.now())
    assert delivery.notifications_reap_stuck(now=timezone.now()) == []
    crashed.refresh_from_db()
    assert crashed.status == Status.SENDING


def test_a_pending_row_whose_enqueue_was_lost_is_enqueued_again(
    hooked_team, django_capture_on_commit_callbacks
):
    send(team=hooked_team, now=timezone.now() - timedelta(minutes=20))
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    with django_capture_on_commit_callbacks() as callbacks:
        assert delivery.notifications_reap_stuck(now=timezone.now()) == [webhook.pk]
    assert len(callbacks) == 1
