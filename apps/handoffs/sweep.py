"""The clock sweep: fire warnings, breaches and escalation steps that have come due.

Work grows with what is due, not with what runs: the sweep reads only running clocks whose
`next_step_at` has passed (partial index), in batches, each batch in its own transaction.

Exactly once, even with two sweeps at the same moment or a sweep that dies midway:
- `select_for_update(skip_locked=True)`: a clock being handled by one sweep is skipped by
  the other;
- each advance is claimed with a conditional UPDATE on `fired_percent` (and `breached_at`
  for the breach), so a step is recorded once even if the lock were lost;
- notifications carry a unique dedup key per handoff, clock, step, channel and recipient.
A sweep that dies rolls its batch back; the next sweep finds the same clocks due.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from apps.agreements.models import Notify
from apps.teams.models import Membership, Role

from . import clocks as clockwork
from . import services
from .models import Clock, ClockStatus, EventKind, Handoff, HandoffEvent, SweepRun

BATCH_SIZE = 500


@dataclass
class SweepResult:
    clocks: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    raised: int = 0
    duration_ms: float = 0.0
    fired: list[tuple[int, str, int]] = field(default_factory=list)


def sweep_due_clocks(*, now: datetime, batch_size: int = BATCH_SIZE) -> SweepResult:
    """Advance every running clock whose next step is due at `now`."""
    started = time.perf_counter()
    result = SweepResult()
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            batch = list(
                Clock.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=ClockStatus.RUNNING, next_step_at__lte=now)
                .exclude(pk__in=seen)
                .select_related("handoff")
                .order_by("next_step_at", "pk")[:batch_size]
            )
            if not batch:
                break
            contexts: dict[int, services.ClockContext] = {}
            for clock in batch:
                seen.add(clock.pk)
                result.clocks += 1
                context = contexts.get(clock.handoff.agreement_id)
                if context is None:
                    # Windows of the last 400 days cover every clock a sweep meets.
                    context = contexts[clock.handoff.agreement_id] = services.ClockContext(
                        clock.handoff, since=now - timedelta(days=400)
                    )
                _advance(clock, context, now, result)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def sweep_record(*, started_at: datetime, result: SweepResult, keep: int = 10_000) -> SweepRun:
    """Record a sweep for the staff page; only the latest `keep` runs are kept."""
    run = SweepRun.objects.create(
        started_at=started_at,
        duration_ms=round(result.duration_ms),
        clocks=result.clocks,
        warnings=result.warnings,
        breaches=result.breaches,
        escalations=result.escalations,
        raised=result.raised,
    )
    oldest_kept = SweepRun.objects.order_by("-started_at").values("started_at")[keep - 1 : keep]
    SweepRun.objects.filter(started_at__lt=oldest_kept).delete()
    return run


def _advance(clock: Clock, ctx: services.ClockContext, now: datetime, result: SweepResult) -> None:
    handoff = clock.handoff
    agreement = ctx.agreement
    hours = ctx.hours(clock.around_the_clock)
    if clock.target_seconds is None:
        Clock.objects.filter(pk=clock.pk).update(next_step_at=None)
        return
    # Consumed time is recomputed with the windows approved by now: a window approved
    # after the clock started moves its steps later, and nothing fires early.
    consumed = clockwork.consumed_at(clock, hours, now)
    ladder = ctx.ladder(clock.metric)
    percents = clockwork.step_percents(agreement.warning_threshold, ladder)
    reached = [
        p
        for p in percents
        if p > clock.fired_percent and consumed * 100 >= clock.target_seconds * p
    ]
    if reached:
        claimed = Clock.objects.filter(pk=clock.pk, fired_percent=clock.fired_percent).update(
            fired_percent=reached[-1]
        )
        if not claimed:
            return  # another sweep advanced this clock first
        clock.fired_percent = reached[-1]
    raise_to = None
    for percent in reached:
        moment = clockwork.moment_of(
            clock, hours, clockwork._ceil_percent(clock.target_seconds, percent)
        )
        if percent == 100:
            _breach(clock, handoff, moment or now, now, result)
        elif percent == agreement.warning_threshold and percent not in ladder:
            _warn(clock, handoff, percent, now, result)
        for step in (s for s in agreement.escalation_steps.all() if s.metric == clock.metric):
            if step.percent != percent:
                continue
            _escalate(clock, handoff, step, now, result, agreement.warning_threshold)
            if step.raise_priority:
                raise_to = services.raised(handoff.priority)
        result.fired.append((clock.pk, clock.metric, percent))
    if raise_to is not None and handoff.status in (
        "new",
        "acknowledged",
        "in_progress",
        "waiting_on_requester",
    ):
        services.handoff_change_priority(
            handoff=handoff,
            actor=None,
            priority=raise_to,
            reason=f"Escalation ladder: {clock.get_metric_display().lower()} target passed.",
            now=now,
            system=True,
        )
        result.raised += 1
        return  # the priority change recomputed every clock's deadlines
    clockwork.refresh_deadlines(
        clock, hours, warning_threshold=agreement.warning_threshold, ladder=ladder
    )
    Clock.objects.filter(pk=clock.pk).update(next_step_at=clock.next_step_at)


def _breach(clock, handoff, moment: datetime, now: datetime, result: SweepResult) -> None:
    if not Clock.objects.filter(pk=clock.pk, breached_at__isnull=True).update(breached_at=moment):
        return
    clock.breached_at = moment
    result.breaches += 1
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=EventKind.CLOCK_BREACHED,
        actor=None,
        created_at=now,
        after={"metric": clock.metric, "target_seconds": clock.target_seconds},
    )
    _notify(
        handoff,
        clock,
        kind="breach",
        percent=100,
        title=f"Breached: {clock.get_metric_display()} target of #{handoff.pk}",
        recipients=_recipients(handoff, Notify.ASSIGNEE),
        team=handoff.provider_team,
        urgent=True,
        now=now,
    )


def _warn(clock, handoff, percent: int, now: datetime, result: SweepResult) -> None:
    result.warnings += 1
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=EventKind.WARNED,
        actor=None,
        created_at=now,
        after={"metric": clock.metric, "percent": percent},
    )
    _notify(
        handoff,
        clock,
        kind="warning",
        percent=percent,
        title=f"At risk: {clock.get_metric_display()} of #{handoff.pk} at {percent} %",
        recipients=_recipients(handoff, Notify.ASSIGNEE),
        team=None,
        urgent=handoff.priority in ("P1", "P2"),
        now=now,
    )


def _escalate(clock, handoff, step, now: datetime, result: SweepResult, warning: int) -> None:
    result.escalations += 1
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=EventKind.ESCALATED,
        actor=None,
        created_at=now,
        after={
            "metric": clock.metric,
            "percent": step.percent,
            "notify": step.notify,
            "raise_priority": step.raise_priority,
        },
    )
    urgent = step.percent >= 100 or handoff.priority in ("P1", "P2")
    if step.percent == 100:
        kind = "breach"
    elif step.percent == warning:
        kind = "warning"
    else:
        kind = "escalation"
    _notify(
        handoff,
        clock,
        kind=kind,
        percent=step.percent,
        title=f"Escalation: {clock.get_metric_display()} of #{handoff.pk} at {step.percent} %",
        recipients=_recipients(handoff, step.notify, user=step.user),
        team=handoff.provider_team if step.notify == Notify.PROVIDER_TEAM else None,
        urgent=urgent,
        now=now,
    )


def _recipients(handoff: Handoff, notify: str, user=None) -> list:
    from apps.accounts.models import User

    def leads(team_id):
        return Q(memberships__team_id=team_id, memberships__role=Role.LEAD)

    if notify == Notify.USER:
        return [user] if user else []
    if notify == Notify.ASSIGNEE and handoff.assignee_id:
        return [handoff.assignee]
    if notify in (Notify.ASSIGNEE, Notify.PROVIDER_TEAM):
        # Nobody has it yet: the whole provider team hears about it.
        ids = Membership.objects.filter(team_id=handoff.provider_team_id).values("user_id")
        return list(User.objects.filter(pk__in=ids))
    condition = {
        Notify.PROVIDER_LEAD: leads(handoff.provider_team_id),
        Notify.REQUESTING_LEAD: leads(handoff.requesting_team_id),
        Notify.BOTH_LEADS: leads(handoff.provider_team_id) | leads(handoff.requesting_team_id),
    }[notify]
    return list(User.objects.filter(condition).distinct())


def _notify(handoff, clock, *, kind, percent, title, recipients, team, urgent, now) -> None:
    try:
        from apps.notifications import services as notifications
    except ImportError:  # the notifications app is not installed yet
        return
    from django.conf import settings

    deliver_after = None
    if not urgent:
        periods = handoff.provider_team.calendar.open_periods(now, days=14)
        if periods and periods[0][0] > now:
            deliver_after = periods[0][0]
    notifications.notify(
        kind=kind,
        title=title,
        body=f"{handoff.title} — {handoff.get_priority_display()}, "
        f"{handoff.requesting_team} → {handoff.provider_team}.",
        url=f"{settings.SITE_URL}{handoff.get_absolute_url()}",
        dedup_base=f"handoff:{handoff.pk}:clock:{clock.metric}:step:{percent}:{kind}",
        recipients=recipients,
        team=team,
        urgent=urgent,
        deliver_after=deliver_after,
        subject_type="handoff",
        subject_id=handoff.pk,
        now=now,
    )
