import pytest
from django.core import mail

from apps.notifications import delivery
from apps.notifications.models import Channel, Notification, Status
from tests.notifications.conftest import send

pytestmark = pytest.mark.django_db


def test_an_email_has_text_and_html_with_an_absolute_link_to_the_handoff(alice):
    send(recipients=[alice])
    email = Notification.objects.get(channel=Channel.EMAIL)

    delivery.notification_deliver(notification_id=email.pk)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "[OLA Portal] Breach: resolve of #7"
    assert "https://ola.example.com/handoffs/7/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert 'href="https://ola.example.com/handoffs/7/"' in html
    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.sent_at is not None
    assert email.attempts == 1


def test_an_absolute_url_is_kept_as_given(alice):
    send(recipients=[alice], url="https://elsewhere.example.com/x/")
    email = Notification.objects.get(channel=Channel.EMAIL)
    delivery.notification_deliver(notification_id=email.pk)
    assert "https://elsewhere.example.com/x/" in mail.outbox[0].body


def test_a_sent_email_is_never_sent_again(alice):
    send(recipients=[alice])
    email = Notification.objects.get(channel=Channel.EMAIL)
    delivery.notification_deliver(notification_id=email.pk)
    assert delivery.notification_deliver(notification_id=email.pk) is None
    assert len(mail.outbox) == 1


def test_a_failing_mail_server_is_recorded_on_the_row(alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    send(recipients=[alice])
    email = Notification.objects.get(channel=Channel.EMAIL)
    with pytest.raises(delivery.DeliveryFailed):
        delivery.notification_deliver(notification_id=email.pk)
    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert "Connection" in email.last_error or "refused" in email.last_error.lower()
