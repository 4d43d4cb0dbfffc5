from datetime import timedelta

import pytest

from apps.notifications import delivery, services
from apps.notifications.models import Channel, Notification, Status
from tests.notifications.conftest import NOW, send

pytestmark = pytest.mark.django_db

OPENS = NOW + timedelta(hours=14)


def test_non_urgent_email_and_webhook_wait_for_open_hours_but_the_inbox_shows_at_once(
    alice, hooked_team
):
    rows = send(
        recipients=[alice], team=hooked_team, kind="warning", urgent=False, deliver_after=OPENS
    )
    services.preference_set(user=alice, kind="warning", channel="email", enabled=True)
    rows += send(
        "other-base", recipients=[alice], kind="warning", urgent=False, deliver_after=OPENS
    )
    by_channel = {(r.dedup_key.split(":")[0], r.channel): r for r in rows}
    assert by_channel[("handoff", Channel.IN_APP)].status == Status.SENT
    assert by_channel[("handoff", Channel.WEBHOOK)].status == Status.SCHEDULED
    assert by_channel[("handoff", Channel.WEBHOOK)].deliver_after == OPENS
    assert by_channel[("other-base", Channel.EMAIL)].status == Status.SCHEDULED


def test_urgent_notifications_go_at_once_whatever_deliver_after_says(alice, hooked_team):
    rows = send(recipients=[alice], team=hooked_team, urgent=True, deliver_after=OPENS)
    assert {r.status for r in rows if r.channel != Channel.IN_APP} == {Status.PENDING}


def test_non_urgent_inside_open_hours_goes_at_once(alice, hooked_team):
    rows = send(recipients=[alice], team=hooked_team, urgent=False, deliver_after=None)
    assert {r.status for r in rows if r.channel != Channel.IN_APP} == {Status.PENDING}


def test_scheduled_rows_are_sent_by_the_periodic_sender_when_their_time_comes_and_once(
    alice, hooked_team, webhook_server, settings
):
    settings.NOTIFICATION_QUEUE_GRACE = 0
    send(recipients=[alice], team=hooked_team, kind="warning", urgent=False, deliver_after=OPENS)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)

    assert delivery.notifications_send_due(now=OPENS - timedelta(seconds=1)).taken == 0
    assert delivery.notifications_send_due(now=OPENS).sent == 1
    assert delivery.notifications_send_due(now=OPENS).taken == 0
    assert len(webhook_server.received) == 1
    webhook.refresh_from_db()
    assert webhook.status == Status.SENT


def test_a_scheduled_row_is_not_delivered_before_its_time(alice, hooked_team, webhook_server):
    send(recipients=[alice], team=hooked_team, kind="warning", urgent=False, deliver_after=OPENS)
    webhook = Notification.objects.get(channel=Channel.WEBHOOK)
    early = OPENS - timedelta(seconds=1)
    assert delivery.notification_deliver(notification_id=webhook.pk, now=early) is None
    assert webhook_server.received == []
    assert delivery.notification_deliver(notification_id=webhook.pk, now=OPENS)
    assert len(webhook_server.received) == 1
