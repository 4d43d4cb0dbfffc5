"""A notification email about a handoff says where a reply goes: a signed address for the
person it was sent to (apps.handoffs.inbound turns the reply into their comment)."""

import pytest
from django.core import mail

from apps.notifications import delivery
from apps.notifications.models import Channel, Notification
from apps.notifications.replies import parse_reply_address
from tests.notifications.conftest import due, send

pytestmark = pytest.mark.django_db


def _deliver_email():
    email = Notification.objects.get(channel=Channel.EMAIL)
    delivery.notification_deliver(notification_id=email.pk, now=due(email))
    assert len(mail.outbox) == 1
    return mail.outbox[0]


def test_an_email_about_a_handoff_has_a_reply_to_address_signed_for_its_reader(alice, settings):
    settings.REPLY_DOMAIN = "reply.ola.example"
    send(recipients=[alice])

    message = _deliver_email()

    assert len(message.reply_to) == 1
    assert parse_reply_address(message.reply_to[0]) == (7, alice.pk)
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "Reply to this email to add a comment" in message.body
    assert "Reply to this email to add a comment" in message.alternatives[0][0]


def test_without_a_reply_domain_an_email_invites_no_reply(alice, settings):
    settings.REPLY_DOMAIN = ""
    send(recipients=[alice])

    message = _deliver_email()

    assert message.reply_to == []
    assert "Reply to this email" not in message.body


def test_an_email_about_something_else_than_a_handoff_invites_no_reply(alice, settings):
    settings.REPLY_DOMAIN = "reply.ola.example"
    send(recipients=[alice], subject_type="review", subject_id=3, dedup_base="review:3:due")

    message = _deliver_email()

    assert message.reply_to == []
