"""Hourly and daily handoff upkeep: nudging requesters, closing silent handoffs, closing
resolutions nobody confirmed, and each team's digest of work at risk.

Each step happens once: reminders carry dedup keys per handoff, wait (or resolution) and
step; the auto-closes are status transitions claimed by a conditional UPDATE; digests are
keyed per team and day. Safe to run twice at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.core.exceptions import Conflict
from apps.notifications import services as notifications
from apps.teams.models import Team

from . import services
from .clockwork.verdict import handoff_at_risk_q, handoff_breached_q
from .models import OPEN_STATUSES, EventKind, Handoff, HandoffEvent, Status
from .selectors import ConfirmationClock

REMINDER_HOURS = (24, 48)


@dataclass
class ReminderResult:
    reminded: int = 0  # waiting on the requester: reminders sent
    closed: int = 0  # waiting on the requester: closed after the agreement's days
    confirm_reminded: int = 0  # resolved: reminded to confirm or reopen
    unconfirmed_closed: int = 0  # resolved: closed after the agreement's business days


def _notify(**kwargs):
    return notifications.notify(**kwargs)


def remind_waiting(*, now: datetime) -> ReminderResult:
    """Remind the requester of a handoff waiting on them after 24 h and 48 h; close it
    after the agreement's `waiting_auto_close_days` without a reply. Then the resolved
    handoffs nobody confirmed (`remind_unconfirmed`)."""
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
    remind_unconfirmed(now=now, result=result)
    return result


# --- resolved, awaiting the requester's confirmation -------------------------------------


def remind_unconfirmed(*, now: datetime, result: ReminderResult | None = None) -> ReminderResult:
    """Close each resolved handoff whose requester neither confirmed nor reopened it within
    the agreement's `confirmation_days` business days (the provider team's calendar);
    remind the filer once, one business day before."""
    result = result or ReminderResult()
    clock = ConfirmationClock()
    resolved = (
        Handoff.objects.filter(
            status=Status.RESOLVED,
            # A business day later is at least a calendar day later, less an hour when
            # the clocks go forward.
            resolved_at__lte=now - timedelta(hours=23),
        )
        .select_related("agreement", "created_by", "provider_team__calendar")
        .prefetch_related("provider_team__calendar__intervals", "provider_team__calendar__holidays")
        .order_by("resolved_at", "pk")
    )
    for handoff in resolved:
        closes_at = clock.closes_at(handoff)
        if closes_at is not None and closes_at <= now:
            try:
                services.handoff_close_unconfirmed(handoff=handoff, now=now)
            except Conflict:
                continue  # confirmed, reopened or closed by another run in the meantime
            result.unconfirmed_closed += 1
            continue
        reminds_at = clock.reminds_at(handoff)
        if reminds_at is None or reminds_at > now:
            continue
        if _remind_to_confirm(handoff, closes_at, now):
            result.confirm_reminded += 1
    return result


def _remind_to_confirm(handoff: Handoff, closes_at: datetime | None, now: datetime) -> bool:
    zone = ZoneInfo(handoff.created_by.time_zone or "UTC")
    when = f" on {closes_at.astimezone(zone):%a %d %b at %H:%M %Z}" if closes_at is not None else ""
    created = _notify(
        kind="reminder",
        title=f"#{handoff.pk} resolved: confirm it or reopen it",
        body=f"{handoff.provider_team} resolved “{handoff.title}”. It closes by itself{when} "
        "unless you confirm the resolution or reopen it.",
        url=f"{settings.SITE_URL}{handoff.get_absolute_url()}",
        # Keyed by the resolution: a handoff reopened and resolved again reminds afresh.
        dedup_base=f"handoff:{handoff.pk}:resolved:{handoff.resolved_at:%Y%m%d%H%M%S}"
        ":confirm-reminder",
        recipients=[handoff.created_by],
        subject_type="handoff",
        subject_id=handoff.pk,
        now=now,
    )
    if created:
        HandoffEvent.objects.create(
            handoff=handoff,
            kind=EventKind.WARNED,
            actor=None,
            created_at=now,
            comment="Requester reminded to confirm the resolution or reopen it.",
        )
    return bool(created)


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
