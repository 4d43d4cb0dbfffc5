"""Scale the demo data up to N open handoffs in Engineering's inbound queue (default 10,000).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal_load \\
        .venv/bin/python bench/load/scale.py [--open 10000] [--seed 7]

Run after `migrate` and `seed_demo` on a throw-away database (bench/load/run.py does all
three). The handoffs are filed by Support under the active Support → Engineering agreement,
like the demo's own, and inserted in bulk like bench/queue_page.py does, but their clocks are
computed by the portal's own clock arithmetic (`apps.handoffs.clocks`) on the agreement's
business hours, so that every page reads them exactly as it reads real ones:

- a mix of statuses: new (half: the load test acknowledges these), acknowledged, in
  progress (some with the action plan posted) and waiting on the requester (pausable
  clocks paused);
- stopped clocks met or breached at the moment they stopped; running clocks carry the
  due, warning and next-step moments, the escalation percent and breach moment a sweep
  would have recorded by now (escalation events and notifications are not written, and
  the ladder's priority raise is not applied);
- a timeline row per transition (created, acknowledged, started, plan, waiting, met,
  breached), triage answers valid for the agreement's triage fields.

Prints what it built; changes nothing else.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _common

import _common

_common.setup_django()

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.agreements.models import Agreement, Metric
from apps.handoffs.clockwork import arithmetic as clockwork
from apps.handoffs.clockwork.store import ClockContext
from apps.handoffs.demo import ESCALATION_TITLES, _pick_priority, _triage
from apps.handoffs.models import (
    OPEN_STATUSES,
    Clock,
    ClockStatus,
    EventKind,
    Handoff,
    HandoffEvent,
    Segment,
    Status,
)
from apps.teams.models import Team

PROVIDER, REQUESTER = "engineering", "support"
BATCH = 2_000
# Share of each open status among the added handoffs.
STATUS_MIX = {
    Status.NEW: 0.5,
    Status.ACKNOWLEDGED: 0.15,
    Status.IN_PROGRESS: 0.3,
    Status.WAITING: 0.05,
}
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

    def handoff(self, index: int) -> tuple[Handoff, list[Clock], list[HandoffEvent]]:
        rng = self.rng
        status = rng.choices(list(STATUS_MIX), weights=list(STATUS_MIX.values()))[0]
        priority = _pick_priority(rng, self.agreement)
        target = self.targets[priority]
        # New work is recent; work in hand has been around for up to two weeks.
        minutes_back = (
            min(int(rng.expovariate(1 / (60 * 8))), 60 * 24 * 5)
            if status == Status.NEW
            else rng.randint(30, 60 * 24 * 14)
        )
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
            if status in (Status.IN_PROGRESS, Status.WAITING):
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
                if status == Status.WAITING or rng.random() < 0.6:
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
        for clock in clocks.values():
            self._sweep_state(clock, hours(clock))
        due = [c.due_at for c in clocks.values() if c.status == ClockStatus.RUNNING and c.due_at]
        handoff.due_at = min(due) if due else None
        return handoff, list(clocks.values()), events

    # --- in bulk ------------------------------------------------------------------------

    def build(self, count: int) -> dict[str, int]:
        made = {s: 0 for s in STATUS_MIX}
        for offset in range(0, count, BATCH):
            rows = [self.handoff(offset + n) for n in range(min(BATCH, count - offset))]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=10_000, help="open handoffs wanted")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    args = parser.parse_args()

    provider = Team.objects.get(slug=PROVIDER)
    agreement = (
        Agreement.objects.active()
        .select_related("series__provider_team", "series__requesting_team", "calendar")
        # The demo's helpers read these for every handoff: once, not 10,000 times.
        .prefetch_related("targets", "triage_fields")
        .get(series__provider_team=provider, series__requesting_team__slug=REQUESTER)
    )
    already = Handoff.objects.filter(provider_team=provider, status__in=OPEN_STATUSES).count()
    wanted = max(0, args.open - already)
    started = time.perf_counter()
    builder = Builder(agreement=agreement, now=timezone.now(), rng=random.Random(args.seed))
    made = builder.build(wanted)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    open_now = Handoff.objects.filter(provider_team=provider, status__in=OPEN_STATUSES)
    mix = ", ".join(f"{n:,} {status.label.lower()}" for status, n in made.items())
    print(
        f"scaled: {already:,} open demo handoffs + {wanted:,} added ({mix}) = "
        f"{open_now.count():,} open in {provider.name}'s queue under {agreement} "
        f"({open_now.filter(clocks__breached_at__isnull=False).distinct().count():,} with a "
        f"breach), in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
