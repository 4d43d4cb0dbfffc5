"""Webhooks against a real HTTP server on 127.0.0.1 (tests/servers.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications import delivery
from apps.notifications.models import Channel, Notification, Status
from tests.notifications.conftest import due, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(hooked_team):
    send(team=hooked_team)
    return Notification.objects.get(channel=Channel.WEBHOOK)


def test_a_200_marks_the_webhook_sent_with_slack_compatible_json(webhook, webhook_server):
    delivery.notification_deliver(notification_id=webhook.pk)

    (payload,) = webhook_server.received
    assert "Breach: resolve of #7" in payload["text"]
    assert "https://ola.example.com/handoffs/7/" in payload["text"]
    section = payload["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "<https://ola.example.com/handoffs/7/|Breach: resolve of #7>" in section["text"]["text"]
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts, webhook.last_error) == (Status.SENT, 1, "")


def test_a_500_is_recorded_as_failed_and_the_retry_delivers(webhook, webhook_server):
    webhook_server.reply_with((500, 0))

    with pytest.raises(delivery.DeliveryFailed) as failure:
        delivery.notification_deliver(notification_id=webhook.pk)

    assert failure.value.retryable
    webhook.refresh_from_db()
    assert webhook.status == Status.FAILED
    assert webhook.last_error.startswith("HTTP 500")
    assert "server exploded" in webhook.last_error
    assert webhook.sent_at is None
    retry_at = due(webhook)
    assert retry_at > webhook.created_at  # the schedule is on the row

    early = retry_at - timedelta(milliseconds=1)
    assert delivery.notification_deliver(notification_id=webhook.pk, now=early) is None
    delivery.notification_deliver(notification_id=webhook.pk, now=retry_at)  # the retry
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts, webhook.last_error) == (Status.SENT, 2, "")
    assert len(webhook_server.received) == 2


def test_a_server_slower_than_the_timeout_is_a_timeout_failure(webhook, webhook_server):
    webhook_server.reply_with((200, 2.0))  # the timeout is 0.5 s in tests

    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=webhook.pk)

    webhook.refresh_from_db()
    assert webhook.status == Status.FAILED
    assert webhook.last_error.startswith("Timed out after 0.5 s")


def test_after_five_attempts_a_failure_stays_failed_for_staff_to_see(webhook, webhook_server):
    webhook_server.reply_with(*[(503, 0)] * 5)
    now = None
    for attempt in range(1, 6):
        with pytest.raises(delivery.DeliveryFailed) as failure:
            delivery.notification_deliver(notification_id=webhook.pk, now=now)
        assert failure.value.retryable is (attempt < 5)
        webhook.refresh_from_db()
        now = webhook.next_attempt_at
    assert now is None  # no next attempt: out of attempts
    assert delivery.notification_deliver(notification_id=webhook.pk) is None
    assert delivery.notifications_send_due(now=timezone.now() + timedelta(days=1)).taken == 0
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts) == (Status.FAILED, 5)
    assert len(webhook_server.received) == 5


def test_an_unreachable_webhook_is_recorded(hooked_team):
    hooked_team.webhook_url = "http://127.0.0.1:9/nothing-listens-here"
    hooked_team.save()
    send(team=hooked_team)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=webhook.pk)
    webhook.refresh_from_db()
    assert webhook.status == Status.FAILED and webhook.last_error


def test_a_claimed_row_is_not_claimed_twice(webhook):
    assert delivery.notification_claim(notification_id=webhook.pk, now=webhook.created_at)
    assert delivery.notification_claim(notification_id=webhook.pk, now=webhook.created_at) is None
