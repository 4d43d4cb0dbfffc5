from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.notifications import delivery
from apps.notifications.models import Channel, Notification, Status
from tests.notifications.conftest import send

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:notifications_notification_changelist"


@pytest.fixture
def failed_webhook(hooked_team, webhook_server):
    send(team=hooked_team)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    webhook_server.reply_with((500, 0))
    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=webhook.pk)
    return webhook


def test_staff_find_failed_deliveries_with_their_error(client, staff, failed_webhook):
    client.force_login(staff)
    response = client.get(reverse(CHANGELIST), {"status__exact": "failed"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "HTTP 500" in html
    assert "Retry delivery" in html


def test_the_retry_action_puts_failed_rows_back_and_enqueues_them(
    client, staff, failed_webhook, alice, django_capture_on_commit_callbacks
):
    (in_app, *_) = send("other", recipients=[alice])
    client.force_login(staff)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse(CHANGELIST),
            {"action": "retry_delivery", "_selected_action": [failed_webhook.pk, in_app.pk]},
            follow=True,
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 notification(s) queued for delivery again." in html
    assert "1 notification(s) skipped" in html
    assert len(callbacks) == 1
    failed_webhook.refresh_from_db()
    assert failed_webhook.status == Status.PENDING


def test_a_notification_opens_read_only(client, staff, failed_webhook):
    client.force_login(staff)
    url = reverse("admin:notifications_notification_change", args=[failed_webhook.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert b'name="title"' not in response.content


def test_a_row_out_of_attempts_stays_failed_and_listed_with_no_next_attempt(
    client, staff, hooked_team, webhook_server
):
    send(team=hooked_team)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    webhook_server.reply_with(*[(503, 0)] * delivery.MAX_ATTEMPTS)
    now = None
    for _ in range(delivery.MAX_ATTEMPTS):
        with pytest.raises(delivery.DeliveryFailed):
            delivery.notification_deliver(notification_id=webhook.pk, now=now)
        webhook.refresh_from_db()
        now = webhook.next_attempt_at
    assert (webhook.status, webhook.attempts, webhook.next_attempt_at) == (Status.FAILED, 5, None)

    client.force_login(staff)
    response = client.get(reverse(CHANGELIST), {"status__exact": "failed"})
    html = response.content.decode()
    assert "Next attempt at" in html
    assert "HTTP 503" in html


def test_retrying_an_email_folded_into_another_retries_the_one_it_went_with(
    client, staff, alice, smtp_server
):
    send("first", recipients=[alice])
    send("second", recipients=[alice])
    head, folded = Notification.objects.filter(channel=Channel.EMAIL).order_by("pk")
    smtp_server.stop()
    later = head.created_at + timedelta(minutes=5)
    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=head.pk, now=later)
    folded.refresh_from_db()
    assert (folded.status, folded.coalesced_into_id) == (Status.FAILED, head.pk)
    smtp_server.start()

    client.force_login(staff)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "retry_delivery", "_selected_action": [folded.pk]},
        follow=True,
    )
    assert "1 notification(s) queued for delivery again." in response.content.decode()
    assert delivery.notifications_send_due(now=timezone.now() + timedelta(minutes=1)).sent == 1
    (message,) = smtp_server.received()
    assert message["Subject"].startswith("[OLA Portal] 2 updates on #7:")
    folded.refresh_from_db()
    assert folded.status == Status.SENT
