"""Periodic handoff work: thin wrappers around services."""

import logging
from dataclasses import asdict

from celery import shared_task
from django.utils import timezone

from .clockwork.sweep import sweep_due_clocks, sweep_record
from .inbound import read_replies
from .reminders import remind_waiting, send_digests

logger = logging.getLogger(__name__)

# A reply batch stops taking messages after this long, well inside its 50 s soft limit
# (one message takes at most about a second: apps.handoffs.inbound.message).
REPLY_BATCH_SECONDS = 30


@shared_task(soft_time_limit=50, time_limit=55, ignore_result=True)
def sweep_clocks() -> dict:
    """Every minute: fire the warnings, breaches and escalation steps that are due — one
    batch per task, so the time limit bounds a batch, not the run: when clocks are still
    due, the next batch is a new task with its own limit."""
    started = timezone.now()
    result = sweep_due_clocks(now=started)
    sweep_record(started_at=started, result=result)
    logger.info(
        "clock sweep: %d clocks, %d warnings, %d breaches, %d escalations, %d failed in %.0f ms",
        result.clocks,
        result.warnings,
        result.breaches,
        result.escalations,
        result.failed,
        result.duration_ms,
    )
    if result.more:
        sweep_clocks.delay()
    return {
        "clocks": result.clocks,
        "warnings": result.warnings,
        "breaches": result.breaches,
        "escalations": result.escalations,
        "failed": result.failed,
        "duration_ms": round(result.duration_ms, 1),
    }


@shared_task(soft_time_limit=300, time_limit=330, ignore_result=True)
def remind_waiting_requesters() -> dict:
    """Hourly: remind requesters after 24 h and 48 h and auto-close after the agreement's
    days; remind them to confirm a resolution, and close it after its confirmation days."""
    result = remind_waiting(now=timezone.now())
    return asdict(result)


@shared_task(soft_time_limit=300, time_limit=330, ignore_result=True)
def send_team_digests() -> int:
    """Daily: each team's at-risk and breached work."""
    return send_digests(now=timezone.now())


@shared_task(soft_time_limit=50, time_limit=55, ignore_result=True)
def read_email_replies() -> dict:
    """Every minute: replies to notification emails become comments (apps.handoffs.inbound);
    nothing when REPLY_DOMAIN is unset. One batch per task: when more replies wait, the next
    batch is a new task with its own limit."""
    result = read_replies(now=timezone.now(), seconds=REPLY_BATCH_SECONDS)
    if result.more and not result.left:
        read_email_replies.delay()
    return {
        "commented": result.commented,
        "resumed": result.resumed,
        "duplicates": result.duplicates,
        "refused": result.refused,
        "left": result.left,
    }
