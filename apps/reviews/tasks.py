"""Periodic review work: thin wrappers around services."""

import logging

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import services

logger = logging.getLogger(__name__)


@shared_task(soft_time_limit=300, time_limit=330, ignore_result=True)
def reviews_daily(now: str | None = None) -> dict:
    """Daily: schedule the coming reviews, remind the leads 14 and 3 days before, flag the
    overdue ones, and remind owners of action items due or overdue. Each step happens once
    however often this runs (safe to run twice at once).

    `now` (ISO 8601, aware) replays a given moment; beat passes nothing."""
    moment = parse_datetime(now) if now else timezone.now()
    if moment is None or timezone.is_naive(moment):
        raise ValueError(f"now must be an aware ISO 8601 datetime, not {now!r}")
    scheduled = services.reviews_schedule(now=moment)
    reminded = services.reviews_remind(now=moment)
    actions = services.action_items_remind(now=moment)
    result = {"scheduled": len(scheduled), **reminded, "action_items": actions}
    logger.info("reviews daily: %s", result)
    return result
