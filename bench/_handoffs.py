"""Handoffs, clocks and timelines built in memory as the services would leave them, for bulk
loads (bench/load/scale.py, bench/queue_page.py): clocks started, paused and stopped by the
portal's own clock arithmetic (`apps.handoffs.clockwork.arithmetic`) on the agreement's
business hours, carrying the report copies (teams, series, priority, segment), the due,
warning, breach and next-step moments, and the escalation percent and breach moment a
sweep would have recorded by now (escalation events and notifications are not written,
and the ladder's priority raise is not applied). Set Django up first (bench/_common.py).
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import transaction

from apps.accounts.models import User
from apps.agreements.models import Agreement, Metric
from apps.handoffs.clockwork import arithmetic as clockwork
from apps.handoffs.clockwork.store import ClockContext
from apps.handoffs.demo import ESCALATION_TITLES, _pick_priority, _triage
from apps.handoffs.models import (
    Clock,
    ClockStatus,
    EventKind,
    Handoff,
    HandoffEvent,
    Segment,
    Status,
)

BATCH = 2_000
# Share of each open status among the added handoffs.
STATUS_MIX = {
    Status.NEW: 0.5,
    Status.ACKNOWLEDGED: 0.15,
    Status.IN_PROGRESS: 0.3,
    Status.WAITING: 0.05,
}
# How far back closed handoffs go.
CLOSED_DAYS = 180
SEGMENTS = [Segment.ENTERPRISE, Segment.BUSINESS, Segment.BUSINESS, Segment.SELF_SERVE]


@contextmanager
def explicit_timestamps(model):
    """Let bulk_create keep the `created_at`/`updated_at` we give (auto_now_add would
    overwrite them with the wall clock)."""
    fields = [model._meta.get_field("created_at"), model._meta.get_field("updated_at")]
    saved = [(f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, (auto_now, auto_now_add) in zip(fields, saved, strict=True):
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


class Builder:
    def __init__(self, *, agreement: Agreement, now: datetime, rng: random.Random):
        self.agreement = agreement
        self.now = now
        self.rng = rng
        self.targets = {t.priority: t for t in agreement.targets.all()}
        self.ctx = ClockContext.load(agreement.pk)
        series = agreement.series
        self.provider = series.provider_team
        self.requester = series.requesting_team
        self.engineers = list(
            User.objects.filter(memberships__team=self.provider).order_by("username")
        )
        self.agents = list(User.objects.filter(memberships__team=self.requester))

    # --- one handoff --------------------------------------------------------------------

    def _moment_after(self, start: datetime, *, at_most_minutes: int) -> datetime:
        """A wall-clock moment after `start`, never in the future."""
        latest = min(at_most_minutes * 60, int((self.now - start).total_seconds()))
        return start + timedelta(seconds=self.rng.randint(0, max(0, latest)))

    def _sweep_state(self, clock: Clock, hours) -> None:
        """What the sweep would have recorded by now on a running clock: the highest step
        percent reached, the breach moment; then the deadlines from there."""
        self.ctx.refresh(clock)
        if clock.status != ClockStatus.RUNNING or not clock.target_seconds:
            return
        fire, passed = clockwork.due_rungs(clock, hours, self.ctx.rungs(clock.metric), self.now)
        if not fire:
            return
        clock.fired_percent = passed
        if clockwork.overdue(clock, hours, self.now):
            clock.breached_at = clockwork.breach_moment(clock, hours, self.now)
        self.ctx.refresh(clock)

    def handoff(
        self, index: int, status: str | None = None
    ) -> tuple[Handoff, list[Clock], list[HandoffEvent]]:
        """One handoff, its clocks and its timeline; `status` one of STATUS_MIX (drawn from
        the mix when not given) or closed: resolved and confirmed within the last
        CLOSED_DAYS days."""
        rng = self.rng
        if status is None:
            status = rng.choices(list(STATUS_MIX), weights=list(STATUS_MIX.values()))[0]
        priority = _pick_priority(rng, self.agreement)
        target = self.targets[priority]
        # New work is recent; work in hand has been around for up to two weeks.
        if status == Status.NEW:
            minutes_back = min(int(rng.expovariate(1 / (60 * 8))), 60 * 24 * 5)
        elif status == Status.CLOSED:
            minutes_back = rng.randint(60 * 24, 60 * 24 * CLOSED_DAYS)
        else:
            minutes_back = rng.randint(30, 60 * 24 * 14)
        created = self.now - timedelta(minutes=minutes_back + 2)
        triage = _triage(rng, self.agreement, 10_000 + index)
        agent = rng.choice(self.agents)
        handoff = Handoff(
            agreement=self.agreement,
            provider_team=self.provider,
            requesting_team=self.requester,
            title=f"{rng.choice(ESCALATION_TITLES)} (load {index + 1})",
            description="Scaled load-test handoff (bench/load/scale.py).",
            priority=priority,
            customer_segment=rng.choice(SEGMENTS),
            impacted_customers=int(triage.get("impacted_customers") or 0),
            triage=triage,
            status=status,
            created_by=agent,
            created_at=created,
            updated_at=created,
        )
        events = [
            HandoffEvent(
                handoff=handoff,
                kind=EventKind.CREATED,
                actor=agent,
                created_at=created,
                after={"priority": priority, "status": "new"},
            )
        ]
        clocks = {
            metric: Clock(
                handoff=handoff,
                metric=metric,
                provider_team=self.provider,
                requesting_team=self.requester,
                series_id=self.agreement.series_id,
                priority=priority,
                customer_segment=handoff.customer_segment,
                target_seconds=target.seconds_for(metric),
                around_the_clock=target.around_the_clock,
            )
            for metric in Metric.values
        }
        for clock in clocks.values():
            clockwork.start(clock, created)

        def hours(clock: Clock):
            return self.ctx.hours(clock.around_the_clock)

        def stop(metric: str, at: datetime, actor) -> None:
            clock = clocks[metric]
            if clockwork.overdue(clock, hours(clock), at):
                clock.breached_at = clockwork.breach_moment(clock, hours(clock), at)
            clockwork.stop(clock, hours(clock), at)
            kind = (
                EventKind.CLOCK_MET if clock.status == ClockStatus.MET else EventKind.CLOCK_BREACHED
            )
            events.append(
                HandoffEvent(
                    handoff=handoff,
                    kind=kind,
                    actor=actor,
                    created_at=at,
                    after={
                        "metric": metric,
                        "consumed_seconds": clock.consumed_seconds,
                        "target_seconds": clock.target_seconds,
                    },
                )
            )

        if status == Status.NEW:
            # One in eight has been claimed (assigned) without being acknowledged yet.
            if rng.random() < 0.125:
                handoff.assignee = rng.choice(self.engineers)
        else:
            engineer = rng.choice(self.engineers)
            handoff.assignee = engineer
            acked = self._moment_after(created, at_most_minutes=240)
            handoff.acknowledged_at = acked
            handoff.updated_at = acked
            events.append(
                HandoffEvent(
                    handoff=handoff,
                    kind=EventKind.ACKNOWLEDGED,
                    actor=engineer,
                    created_at=acked,
                    before={"status": "new"},
                    after={"status": "acknowledged", "assignee": engineer.pk},
                )
            )
            stop(Metric.ACKNOWLEDGE, acked, engineer)
            moment = acked
            if status in (Status.IN_PROGRESS, Status.WAITING, Status.CLOSED):
                moment = self._moment_after(acked, at_most_minutes=120)
                handoff.updated_at = moment
                events.append(
                    HandoffEvent(
                        handoff=handoff,
                        kind=EventKind.STARTED,
                        actor=engineer,
                        created_at=moment,
                        before={"status": "acknowledged"},
                        after={"status": "in_progress"},
                    )
                )
                if status in (Status.WAITING, Status.CLOSED) or rng.random() < 0.6:
                    moment = self._moment_after(moment, at_most_minutes=60 * 24)
                    handoff.updated_at = moment
                    events.append(
                        HandoffEvent(
                            handoff=handoff,
                            kind=EventKind.ACTION_PLAN,
                            actor=engineer,
                            created_at=moment,
                            comment="Reproduced; fix planned for the next release.",
                        )
                    )
                    stop(Metric.ACTION_PLAN, moment, engineer)
            if status == Status.WAITING:
                moment = self._moment_after(moment, at_most_minutes=60 * 24)
                handoff.waiting_since = moment
                handoff.updated_at = moment
                for metric, clock in clocks.items():
                    if clock.status == ClockStatus.RUNNING and target.pauses(metric):
                        clockwork.pause(clock, hours(clock), moment)
                events.append(
                    HandoffEvent(
                        handoff=handoff,
                        kind=EventKind.WAITING,
                        actor=engineer,
                        created_at=moment,
                        comment="Which accounts are affected? Please send two examples.",
                        before={"status": "in_progress"},
                        after={"status": "waiting_on_requester"},
                    )
                )
            if status == Status.CLOSED:
                resolved = self._moment_after(moment, at_most_minutes=60 * 24 * 5)
                handoff.resolved_at = resolved
                events.append(
                    HandoffEvent(
                        handoff=handoff,
                        kind=EventKind.RESOLVED,
                        actor=engineer,
                        created_at=resolved,
                        comment="Fixed in the release.",
                        before={"status": "in_progress"},
                        after={"status": "resolved"},
                    )
                )
                stop(Metric.RESOLVE, resolved, engineer)
                closed = self._moment_after(resolved, at_most_minutes=60 * 24 * 2)
                handoff.closed_at = closed
                handoff.updated_at = closed
                events.append(
                    HandoffEvent(
                        handoff=handoff,
                        kind=EventKind.CLOSED,
                        actor=agent,
                        created_at=closed,
                        before={"status": "resolved"},
                        after={"status": "closed"},
                    )
                )
        for clock in clocks.values():
            self._sweep_state(clock, hours(clock))
        due = [c.due_at for c in clocks.values() if c.status == ClockStatus.RUNNING and c.due_at]
        handoff.due_at = min(due) if due else None
        return handoff, list(clocks.values()), events

    # --- in bulk ------------------------------------------------------------------------

    def build(self, count: int, status: str | None = None, *, first: int = 0) -> dict[str, int]:
        """Insert `count` handoffs (numbered from `first`), of `status` or of the mix."""
        made = dict.fromkeys(STATUS_MIX if status is None else [status], 0)
        for offset in range(0, count, BATCH):
            rows = [
                self.handoff(first + offset + n, status) for n in range(min(BATCH, count - offset))
            ]
            with transaction.atomic(), explicit_timestamps(Handoff):
                handoffs = Handoff.objects.bulk_create([h for h, _, _ in rows])
                # bulk_create set each handoff's pk: the clocks and events point at them.
                for handoff, clocks, events in rows:
                    for row in (*clocks, *events):
                        row.handoff = handoff
                Clock.objects.bulk_create([c for _, clocks, _ in rows for c in clocks])
                HandoffEvent.objects.bulk_create([e for _, _, events in rows for e in events])
            for handoff in handoffs:
                made[handoff.status] += 1
        return made
