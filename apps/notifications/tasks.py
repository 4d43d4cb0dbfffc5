"""Delivery tasks: thin wrappers around delivery.py that own only the retry shortcut.

The schedule is on the row (`next_attempt_at`); a retry message at that time only makes it
sooner than the periodic sender, which takes every due row whatever became of its message.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import delivery
from .models import Channel
from .queue import DELIVER_NOTIFICATION, SEND_DUE, queue_for

logger = logging.getLogger(__name__)

# The periodic sender stops taking rows after this (its soft limit is a little above):
# what is left stays due for the next run, a minute later.
SEND_DUE_BUDGET = 40


@shared_task(
    name=DELIVER_NOTIFICATION,
    bind=True,
    max_retries=None,  # the row's attempts decide, not the message's retry count
    soft_time_limit=30,
    time_limit=45,
)
def deliver_notification(self, notification_id: int) -> str:
    """Send one email or webhook notification if it is due; a failure is recorded on the
    row with its next attempt, and a retry message is left for that time."""
    # A message held until the row's time may fire a hair before it (the broker's clock
    # arithmetic rounds): a second's tolerance instead of a skip and a wait for the sender.
    now = timezone.now() + timedelta(seconds=1)
    try:
        notification = delivery.notification_deliver(notification_id=notification_id, now=now)
    except delivery.DeliveryFailed as exc:
        if exc.next_attempt_at is None:
            logger.warning("Notification %s failed for good: %s", notification_id, exc)
            return "failed"
        raise self.retry(eta=exc.next_attempt_at, queue=queue_for(exc.channel), exc=exc) from exc
    return "sent" if notification else "skipped"


@shared_task(name=SEND_DUE, soft_time_limit=SEND_DUE_BUDGET + 15, time_limit=SEND_DUE_BUDGET + 20)
def send_due_notifications(
    channel: str = Channel.EMAIL, batch_size: int = delivery.SEND_BATCH
) -> int:
    """Every minute per channel (on that channel's queue): send what is due, in batches.
    Safe to run twice at once and beside the delivery tasks: each row is claimed by one
    conditional UPDATE."""
    until = time.monotonic() + SEND_DUE_BUDGET
    taken = 0
    while True:
        result = delivery.notifications_send_due(
            now=timezone.now(), channel=channel, limit=batch_size, until=until
        )
        taken += result.taken
        if not result.more or not result.taken or time.monotonic() > until:
            return taken
