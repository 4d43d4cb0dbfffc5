"""The periodic sender against a real SMTP server: a backlog whose Celery messages were
lost goes out in one run, each email once; a mail server that is down fails the batch row
by row, every row keeps its next attempt, and the next run sends them all."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications import delivery, tasks
from apps.notifications.models import Channel, Notification, Status
from apps.notifications.queue import SEND_DUE, WEBHOOK_QUEUE, queue_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def backlog(db):
    """60 emails to 6 people about 60 handoffs, due ten minutes ago, never sent: their
    messages died with a worker."""
    people = [UserFactory(username=f"p{i}", email=f"p{i}@example.com") for i in range(6)]
    at = timezone.now() - timedelta(minutes=10)
    return Notification.objects.bulk_create(
        Notification(
            recipient=people[i % 6],
            channel=Channel.EMAIL,
            kind="breach",
            title=f"Breach: resolve of #{i}",
            url=f"/handoffs/{i}/",
            subject_type="handoff",
            subject_id=i,
            dedup_key=f"backlog:{i}",
            created_at=at,
            next_attempt_at=at,
        )
        for i in range(60)
    )


def test_a_lost_backlog_goes_out_in_one_run_each_email_once(backlog, smtp_server):
    assert tasks.send_due_notifications(Channel.EMAIL, batch_size=25) == 60  # 3 batches

    ids = smtp_server.message_ids()
    assert ids == {f"<ola-notification-{row.pk}@ola.example.com>": 1 for row in backlog}
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.SENT}
    assert tasks.send_due_notifications(Channel.EMAIL) == 0


def test_a_mail_server_that_is_down_fails_each_row_and_the_next_run_sends_them(
    backlog, smtp_server
):
    smtp_server.stop()
    result = delivery.notifications_send_due(now=timezone.now())
    assert (result.taken, result.sent, result.failed) == (60, 0, 60)
    rows = Notification.objects.all()
    assert {(r.status, r.attempts) for r in rows} == {(Status.FAILED, 1)}
    assert all(r.next_attempt_at and "refused" in r.last_error.lower() for r in rows)

    smtp_server.start()
    later = max(r.next_attempt_at for r in rows) + timedelta(minutes=1)
    assert delivery.notifications_send_due(now=later).sent == 60
    assert len(smtp_server.received()) == 60
    assert {(r.status, r.attempts) for r in Notification.objects.all()} == {(Status.SENT, 2)}


def test_beat_runs_the_periodic_sender_every_minute_for_each_channel_on_its_queue(settings):
    entries = {
        entry["args"]: entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == SEND_DUE
    }
    assert set(entries) == {(Channel.EMAIL,), (Channel.WEBHOOK,)}
    for (channel,), entry in entries.items():
        assert entry["schedule"] == timedelta(minutes=1)
        assert entry["options"]["queue"] == queue_for(channel)
    assert queue_for(Channel.WEBHOOK) == WEBHOOK_QUEUE != queue_for(Channel.EMAIL)
