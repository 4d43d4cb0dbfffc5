import pytest
from django.urls import reverse

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
