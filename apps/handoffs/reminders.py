"""Hourly and daily handoff upkeep: nudging requesters, closing silent handoffs, and each
team's digest of work at risk.

Each step happens once: reminders carry dedup keys per handoff, wait and step; the
auto-close is a status transition claimed by a conditional UPDATE; digests are keyed
per team and day. Safe to run twice at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from apps.core.exceptions import Conflict
from apps.notifications import services as notifications
from apps.teams.models import Team

from . import services
from .clockwork.verdict import handoff_at_risk_q, handoff_breached_q
from .models import OPEN_STATUSES, EventKind, Handoff, HandoffEvent, Status

REMINDER_HOURS = (24, 48)


@dataclass
class ReminderResult:
    reminded: int = 0
    closed: int = 0


def _notify(**kwargs):
    return notifications.notify(**kwargs)


def remind_waiting(*, now: datetime) -> ReminderResult:
    """Remind the requester of a handoff waiting on them after 24 h and 48 h; close it
    after the agreement's `waiting_auto_close_days` without a reply."""
    result = ReminderResult()
    waiting = (
        Handoff.objects.filter(status=Status.WAITING, waiting_since__lte=now - timedelta(hours=24))
        .select_related("agreement", "created_by", "requesting_team", "provider_team")
        .order_by("waiting_since")
    )
    for handoff in waiting:
        waited = now - handoff.waiting_since
        if waited >= timedelta(days=handoff.agreement.waiting_auto_close_days):
            try:
                services.handoff_auto_close(handoff=handoff, now=now)
            except Conflict:
                continue  # replied (or closed by another run) in the meantime
            result.closed += 1
            continue
        for hours in REMINDER_HOURS:
            if waited < timedelta(hours=hours):
                continue
            created = _notify(
                kind="reminder",
                title=f"#{handoff.pk} is waiting on your reply ({hours} h)",
                body=f"{handoff.provider_team} asked a question about “{handoff.title}”. "
                f"It closes after {handoff.agreement.waiting_auto_close_days} days "
                "without a reply.",
                url=f"{settings.SITE_URL}{handoff.get_absolute_url()}",
                # Keyed by the moment the wait began: a new wait reminds afresh.
                dedup_base=f"handoff:{handoff.pk}:wait:{handoff.waiting_since:%Y%m%d%H%M%S}"
                f":reminder:{hours}",
                recipients=[handoff.created_by],
                subject_type="handoff",
                subject_id=handoff.pk,
                now=now,
            )
            if created:
                result.reminded += 1
                HandoffEvent.objects.create(
                    handoff=handoff,
                    kind=EventKind.WARNED,
                    actor=None,
                    created_at=now,
                    comment=f"Requester reminded after {hours} h of waiting.",
                )
    return result


def send_digests(*, now: datetime) -> int:
    """Each team with open work at risk or breached gets one digest a day (members)."""
    sent = 0
    for team in Team.objects.all().order_by("pk"):
        open_work = Handoff.objects.filter(provider_team=team, status__in=OPEN_STATUSES)
        # The one verdict, as the queue's tabs and the dashboard read it.
        breached = open_work.filter(handoff_breached_q(now))
        at_risk = open_work.filter(handoff_at_risk_q(now))
        n_breached, n_risk = breached.count(), at_risk.count()
        if not (n_breached or n_risk):
            continue
        lines = [f"#{h.pk} {h.priority} {h.title}" for h in breached.order_by("due_at")[:10]]
        lines += [f"#{h.pk} {h.priority} {h.title}" for h in at_risk.order_by("due_at")[:10]]
        members = [m.user for m in team.memberships.select_related("user")]
        created = _notify(
            kind="digest",
            title=f"{team.name}: {n_breached} breached, {n_risk} at risk",
            body="\n".join(lines),
            url=f"{settings.SITE_URL}/queues/{team.slug}/?tab=at_risk",
            dedup_base=f"team:{team.pk}:digest:{now:%Y-%m-%d}",
            recipients=members,
            team=team,
            urgent=False,
            subject_type="team",
            subject_id=team.pk,
            now=now,
        )
        sent += bool(created)
    return sent
