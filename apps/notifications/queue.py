"""Putting a delivery on the Celery queue by the task's name.

The services enqueue deliveries and the tasks call the services: enqueueing by name keeps
that one way (services → queue ← tasks) instead of a services ↔ tasks import cycle. The
name is the task's registered name (tasks.py declares it with this constant), the same
message a worker receives from `deliver_notification.delay_on_commit`.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from celery import current_app
from django.db import transaction

DELIVER_NOTIFICATION = "apps.notifications.tasks.deliver_notification"


def enqueue_delivery(
    notification_id: int, *, at: datetime | None = None, channel: str | None = None
) -> None:
    """Send the delivery task once the current transaction commits: a worker must never
    look for a row that is not there yet (or was rolled back). `at` asks the broker to
    hold the message until then (a shortcut only: the row's own time decides); `channel`
    names the row's channel so that each channel can have a queue of its own."""
    transaction.on_commit(
        partial(current_app.send_task, DELIVER_NOTIFICATION, args=(notification_id,), eta=at)
    )
