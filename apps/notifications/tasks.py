"""Delivery tasks: thin wrappers around services that own only the retry policy."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import delivery
from .queue import DELIVER_NOTIFICATION

logger = logging.getLogger(__name__)


def backoff_seconds(attempts: int) -> float:
    """Exponential and short: deadlines live in the database, not in broker countdowns."""
    base = getattr(settings, "NOTIFICATION_RETRY_BACKOFF", 10)
    return min(base * 2 ** max(attempts - 1, 0), 300)


@shared_task(
    name=DELIVER_NOTIFICATION,
    bind=True,
    max_retries=delivery.MAX_ATTEMPTS,
    soft_time_limit=30,
    time_limit=45,
)
def deliver_notification(self, notification_id: int) -> str:
    """Send one email or webhook notification; a failure is recorded and retried later."""
    try:
        notification = delivery.notification_deliver(notification_id=notification_id)
    except delivery.DeliveryFailed as exc:
        if not exc.retryable:
            logger.warning("Notification %s failed for good: %s", notification_id, exc)
            return "failed"
        raise self.retry(countdown=backoff_seconds(exc.attempts), exc=exc) from exc
    return "sent" if notification else "skipped"


@shared_task(soft_time_limit=50, time_limit=55)
def reap_stuck_deliveries() -> int:
    """Safe to run twice at once: each row is taken back by one conditional UPDATE."""
    return len(delivery.notifications_reap_stuck(now=timezone.now()))


@shared_task(soft_time_limit=50, time_limit=55)
def release_scheduled() -> int:
    """Safe to run twice at once: each row is released by one conditional UPDATE."""
    return len(delivery.notifications_release_scheduled(now=timezone.now()))
