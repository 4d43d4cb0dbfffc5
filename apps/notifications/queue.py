"""Putting a delivery on the Celery queue by the task's name, on its channel's queue.

The services enqueue deliveries and the tasks call the services: enqueueing by name keeps
that one way (services → queue ← tasks) instead of a services ↔ tasks import cycle. The
name is the task's registered name (tasks.py declares it with this constant), the same
message a worker receives from `deliver_notification.delay_on_commit`.

Webhooks have a queue of their own: a receiver that hangs until the timeout occupies a
webhook worker, never the one that sends email. A message is only a shortcut: the row's
`next_attempt_at` is the schedule, and the periodic sender (delivery.notifications_send_due)
takes whatever is due that no message delivered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone

from .models import Channel, Notification

DELIVER_NOTIFICATION = "apps.notifications.tasks.deliver_notification"
SEND_DUE = "apps.notifications.tasks.send_due_notifications"

# A message the broker holds for longer than its visibility timeout (Redis: an hour) is
# handed out again and again meanwhile; a delivery held that long (quiet hours, a team's
# open hours) gets no message at all: the periodic sender takes it when its time comes.
LONGEST_HOLD = timedelta(minutes=30)

# Celery's default queue carries email (and every other task); webhooks get their own.
DEFAULT_QUEUE = "celery"
WEBHOOK_QUEUE = "webhooks"


def queue_for(channel: str) -> str:
    return WEBHOOK_QUEUE if channel == Channel.WEBHOOK else DEFAULT_QUEUE


def _send(notification_id: int, at: datetime | None, channel: str | None) -> None:
    if at is not None and at - timezone.now() > LONGEST_HOLD:
        return  # the periodic sender sends it when its time comes
    if channel is None:
        # A caller that did not say: the row knows (one indexed read, after commit).
        channel = (
            Notification.objects.filter(pk=notification_id)
            .values_list("channel", flat=True)
            .first()
        )
        if channel is None:
            return  # rolled back or gone: nothing to deliver
    current_app.send_task(
        DELIVER_NOTIFICATION, args=(notification_id,), eta=at, queue=queue_for(channel)
    )


def enqueue_delivery(
    notification_id: int, *, at: datetime | None = None, channel: str | None = None
) -> None:
    """Send the delivery task once the current transaction commits: a worker must never
    look for a row that is not there yet (or was rolled back). `at` asks the broker to
    hold the message until then (a shortcut only: the row's own time decides; beyond
    LONGEST_HOLD no message is sent, the periodic sender takes the row); `channel`
    (the row's) picks the queue — webhooks go on their own. A broker that refuses the
    message is logged, not raised: the change has committed, and the periodic sender
    delivers the row anyway."""
    transaction.on_commit(lambda: _send(notification_id, at, channel), robust=True)
