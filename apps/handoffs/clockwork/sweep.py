"""The clock sweep: fire the warnings, breaches and escalation steps that have come due.

Work grows with what is due, not with what runs: the sweep reads only running clocks whose
`next_step_at` has passed (partial index), a batch at a time.

Sweeps and people never wait on each other, and each step fires once:
- a batch (at most 500 clocks) is first *planned*, holding no lock: its due clocks, their
  handoffs, assignees and teams, the agreement versions, who hears and their preferences
  are read in a few queries, and each clock's steps (events, notifications, next step)
  are decided in memory (`services.clock_advance` with a `store.Planned` ledger);
- then the plan is written in groups of handoffs, one short transaction per group that
  holds only writes: lock the group's handoffs and their planned clocks `FOR NO KEY
  UPDATE SKIP LOCKED` in one statement (the services' order: a handoff, then its
  clocks), keep only those still as planned (every UPDATE changes a row's version,
  PostgreSQL's xmin), claim their steps and next steps in one conditional UPDATE, the
  events in one INSERT, the notifications in one INSERT … ON CONFLICT DO NOTHING. A group
  holds its handoffs for a few milliseconds; its size follows the time the last one held
  its locks (GROUP_SECONDS). A person acting on a handoff waits at most that long, and a
  handoff someone is acting on is skipped this round (it stays due; the next sweep
  takes it);
- anything unusual takes the one-handoff path, the sweep's way before groups: a handoff
  whose steps raise its priority, one whose plan failed, one that changed between the
  plan and the lock, every handoff of a group whose transaction failed (rolled back
  whole), and every handoff on a database other than PostgreSQL. There, one short
  transaction per handoff locks it and its clocks, claims each step with its own
  conditional UPDATE (`fired_percent`, `breached_at IS NULL`) and runs the raise in a
  savepoint (if it cannot be applied the step still stands); a handoff that fails there
  is rolled back alone, recorded on the SweepRun with its error, and retried with backoff
  (`sweep_failures`) instead of staying first in line;
- notifications carry unique dedup keys as well: any number of sweeps at once fire each
  step once; and two sweeps at once take a share each rather than plan the same
  handoffs twice: a sweep holds a session advisory lock on each handoff it plans until
  its batch is written, and reads the due clocks of handoffs no other sweep holds
  (`store.planning`, `store.not_planned_elsewhere`; people never take these locks);
- a batch stops taking new groups when its time budget is spent; the task runs the next
  batch as a new task (its own time limit).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse

from apps.accounts.models import User
from apps.agreements.models import PriorityTarget
from apps.notifications import services as notifications
from apps.notifications.models import Notification
from apps.teams.models import Team

from .. import services as handoff_services
from ..models import OPEN_STATUSES, Clock, ClockStatus, Handoff, HandoffEvent, SweepRun
from ..transitions import raised
from . import services, store
from .store import Contexts

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_SECONDS = 20.0
# Handoffs per group transaction: the first group takes FIRST_GROUP, the next ones are
# sized from the time the last one held its locks to hold them about GROUP_SECONDS,
# between MIN_GROUP and MAX_GROUP (a loaded machine makes groups smaller, not locks
# longer). A group costs four statements whatever its size.
GROUP_SECONDS = 0.03
FIRST_GROUP = 16
MIN_GROUP = 2
MAX_GROUP = 100
MAX_BACKOFF = timedelta(hours=1)


@dataclass
class SweepResult:
    clocks: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    raised: int = 0
    skipped: int = 0  # handoffs someone else held: due again next time
    more: bool = False  # the batch ended with clocks still due
    groups: int = 0  # group transactions written
    duration_ms: float = 0.0
    fired: list[tuple[int, str, int]] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)


def backoff(failures: int) -> timedelta:
    """1, 2, 4 … minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(failures - 1, 0)), MAX_BACKOFF)


def sweep_due_clocks(
    *, now: datetime, batch_size: int = BATCH_SIZE, budget_seconds: float = BATCH_SECONDS
) -> SweepResult:
    """Advance the running clocks whose next step is due at `now`: one batch of at most
    `batch_size` clocks within `budget_seconds`; `result.more` says whether clocks are
    still due."""
    started = time.perf_counter()
    deadline = started + budget_seconds
    result = SweepResult()
    # Load the URLconf (notification links) before any handoff is locked: the first
    # reverse() in a fresh worker process costs a second or more.
    reverse("handoffs:detail", kwargs={"pk": 1})
    grouped = connection.vendor == "postgresql"
    due = Clock.objects.filter(status=ClockStatus.RUNNING, next_step_at__lte=now).order_by(
        "next_step_at", "pk"
    )
    # One clock past the batch says whether more are due (the task then runs another
    # batch) without another query.
    if grouped:
        due = store.with_version(store.not_planned_elsewhere(due))
    due = list(due[: batch_size + 1])
    more, due = len(due) > batch_size, due[:batch_size]
    by_handoff: dict[int, list[Clock]] = {}
    for clock in due:
        by_handoff.setdefault(clock.handoff_id, []).append(clock)
    batch = Batch(now, Contexts())
    with store.planning(by_handoff) as mine:
        # What another sweep took meanwhile is its share (still due if it leaves it).
        result.skipped += len(by_handoff) - len(mine)
        by_handoff = {pk: clocks for pk, clocks in by_handoff.items() if pk in mine}
        plans, alone = batch.plan(by_handoff) if grouped else ([], list(by_handoff))
        finished = _write_plans(plans, batch, result, deadline) and _one_by_one(
            {pk: [c.pk for c in by_handoff[pk]] for pk in alone}, batch, result, deadline
        )
    result.more = not finished or more
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


# --- planning, without locks ---------------------------------------------------------------


@dataclass
class Plan:
    """What the sweep will write for one handoff, decided from its rows as read."""

    handoff: Handoff
    claims: list[tuple[Clock, int, datetime | None]]  # clock, fired_percent and breached_at read
    fired: list[services.Fired]
    events: list[HandoffEvent]
    deliveries: list[dict]  # notify() arguments
    rows: list[Notification] = field(default_factory=list)  # the deliveries' rows, unsaved

    @property
    def versions(self) -> tuple[str, dict[int, tuple[int, str]]]:
        return self.handoff.row_version, {
            c.pk: (c.handoff_id, c.row_version) for c, _, _ in self.claims
        }


class Batch:
    """What a batch reads once for all its handoffs: the agreement versions' clock
    contexts, the assignees and teams (a few people and teams for many handoffs), who a
    step naming a team or a role reaches, each calendar's next open hours."""

    def __init__(self, now: datetime, contexts: Contexts):
        self.now, self.contexts = now, contexts
        self.people: dict = {}
        self.opens: dict = {}
        self.priorities: dict[int, set[str]] = {}  # the priorities each agreement defines

    def plan(self, by_handoff: dict[int, list[Clock]]) -> tuple[list[Plan], list[int]]:
        """Plans for the handoffs whose steps can be written in groups, and the handoffs
        to take one at a time (a raise, a plan that failed)."""
        handoffs = {
            h.pk: h for h in store.with_version(Handoff.objects.filter(pk__in=list(by_handoff)))
        }
        self._attach(list(handoffs.values()))
        plans, alone = [], []
        for handoff_id, clocks in by_handoff.items():
            handoff = handoffs.get(handoff_id)
            if handoff is None:
                alone.append(handoff_id)
                continue
            try:
                plan = self._plan(handoff, clocks)
            except Exception:  # the one-handoff path fails it again and records it
                logger.exception("clock sweep: could not plan handoff %s", handoff_id)
                alone.append(handoff_id)
                continue
            if self._raises(handoff, plan):
                alone.append(handoff_id)
            else:
                plans.append(plan)
        rows = iter(
            notifications.notifications_prepare(
                [d for p in plans for d in p.deliveries], now=self.now
            )
        )
        for plan in plans:
            plan.rows = [row for _ in plan.deliveries for row in next(rows)]
        return plans, alone

    def _plan(self, handoff: Handoff, clocks: list[Clock]) -> Plan:
        ctx = self.contexts[handoff.agreement_id]
        ledger = store.Planned(self.people, self.opens)
        plan = Plan(handoff, [], [], [], [])
        for clock in sorted(clocks, key=lambda c: c.pk):  # the one-handoff path's order
            clock.handoff = handoff
            read = (clock.fired_percent, clock.breached_at)
            fired = services.clock_advance(clock=clock, now=self.now, context=ctx, ledger=ledger)
            plan.claims.append((clock, *read))
            plan.fired.append(fired)
        plan.events, plan.deliveries = ledger.events, ledger.deliveries
        return plan

    def _raises(self, handoff: Handoff, plan: Plan) -> bool:
        """Whether the plan's steps raise the handoff's priority (not when it is already
        the highest its agreement defines: that raise changes nothing)."""
        if not any(f.raise_priority for f in plan.fired) or handoff.status not in OPEN_STATUSES:
            return False
        if handoff.agreement_id not in self.priorities:
            self.priorities[handoff.agreement_id] = set(
                PriorityTarget.objects.filter(agreement_id=handoff.agreement_id).values_list(
                    "priority", flat=True
                )
            )
        return raised(handoff.priority, self.priorities[handoff.agreement_id]) is not None

    def _attach(self, handoffs: list[Handoff]) -> None:
        """Give each handoff its assignee and both teams, shared: two queries."""
        users = User.objects.in_bulk({h.assignee_id for h in handoffs if h.assignee_id})
        teams = Team.objects.in_bulk(
            {t for h in handoffs for t in (h.provider_team_id, h.requesting_team_id)}
        )
        for handoff in handoffs:
            if handoff.assignee_id:
                handoff.assignee = users[handoff.assignee_id]
            handoff.provider_team = teams[handoff.provider_team_id]
            handoff.requesting_team = teams[handoff.requesting_team_id]


# --- writing, in groups --------------------------------------------------------------------


def _write_plans(plans: list[Plan], batch: Batch, result: SweepResult, deadline: float) -> bool:
    """Write the plans a group at a time, then work the handoffs that changed since the
    plan one at a time (last: a sweep behind another one, finding its groups written,
    moves on to groups nobody has taken instead of checking the written ones first);
    False if the budget ran out first."""
    size, start = FIRST_GROUP, 0
    changed: list[Plan] = []
    while start < len(plans):
        if time.perf_counter() > deadline:
            return False
        group = plans[start : start + size]
        start += size
        try:
            written = _write_group(group, batch.now)
        except Exception:  # rolled back whole: its handoffs again, one at a time
            logger.exception("clock sweep: a group failed; taking it one handoff at a time")
            if not _one_by_one(_clock_ids(group), batch, result, deadline):
                return False
            continue
        fresh, stale = written.fresh, written.stale
        result.groups += 1
        result.skipped += len(group) - len(fresh) - len(stale)
        for plan in group:
            if plan.handoff.pk in fresh:
                for (clock, _, _), fired in zip(plan.claims, plan.fired, strict=True):
                    _tally(result, clock, fired)
        changed += [p for p in group if p.handoff.pk in stale]
        held = max(written.held, 0.001)
        size = max(MIN_GROUP, min(MAX_GROUP, 2 * size, int(size * GROUP_SECONDS / held)))
    return _one_by_one(_clock_ids(changed), batch, result, deadline)


@dataclass
class Written:
    fresh: set[int]  # handoffs written
    stale: set[int]  # handoffs locked but changed since the plan: not written
    held: float = 0.0  # seconds from the lock to the commit


def _write_group(group: list[Plan], now: datetime) -> Written:
    """One short transaction that only writes: lock the group's handoffs and planned
    clocks (skipping those someone holds), and for those still as planned write the
    claims and next steps, the events and the notifications — four statements."""
    handoffs, clocks = {}, {}
    for plan in group:
        handoffs[plan.handoff.pk], versions = plan.versions
        clocks.update(versions)
    with transaction.atomic():
        began = time.perf_counter()
        written = Written(*store.lock_planned(handoffs, clocks))
        # The first thing done once the transaction commits: the locks are gone.
        transaction.on_commit(lambda: setattr(written, "held", time.perf_counter() - began))
        mine = [p for p in group if p.handoff.pk in written.fresh]
        store.claim_planned([claim for p in mine for claim in p.claims])
        store.record_many([event for p in mine for event in p.events])
        notifications.notifications_write([row for p in mine for row in p.rows], now=now)
    return written


def _clock_ids(plans: list[Plan]) -> dict[int, list[int]]:
    return {p.handoff.pk: [c.pk for c, _, _ in p.claims] for p in plans}


def _tally(result: SweepResult, clock: Clock, fired) -> None:
    result.clocks += 1
    result.warnings += fired.warnings
    result.breaches += fired.breaches
    result.escalations += fired.escalations
    result.fired += [(clock.pk, clock.metric, p) for p in fired.percents]


# --- one handoff at a time -----------------------------------------------------------------


def _one_by_one(
    chunk: dict[int, list[int]], batch: Batch, result: SweepResult, deadline: float
) -> bool:
    """Each handoff in a transaction of its own, each step its own claim; False if the
    budget ran out first."""
    for handoff_id, clock_ids in chunk.items():
        if time.perf_counter() > deadline:
            return False
        try:
            with transaction.atomic():
                _sweep_handoff(handoff_id, clock_ids, batch.now, batch.contexts, result)
        except Exception as exc:  # one clock must never stop the sweep
            logger.exception("clock sweep: handoff %s failed", handoff_id)
            _failed(handoff_id, clock_ids, batch.now, exc, result)
    return True


def _sweep_handoff(handoff_id, clock_ids, now, contexts, result: SweepResult) -> None:
    handoff = store.lock_handoff(handoff_id, skip_locked=True)
    if handoff is None:
        result.skipped += 1
        return
    clocks = [
        c
        for c in store.lock_clocks(handoff_id)
        if c.pk in clock_ids
        and c.status == ClockStatus.RUNNING
        and c.next_step_at
        and c.next_step_at <= now
    ]
    ctx = contexts[handoff.agreement_id]
    raise_priority = False
    for clock in clocks:
        clock.handoff = handoff
        fired = services.clock_advance(clock=clock, now=now, context=ctx)
        _tally(result, clock, fired)
        raise_priority |= fired.raise_priority
    if raise_priority and handoff.status in OPEN_STATUSES:
        try:
            with transaction.atomic():
                if handoff_services.handoff_raise_priority(handoff=handoff, now=now):
                    result.raised += 1
        except Exception as exc:
            # The steps stand; the raise is reported (an agreement saved before raise
            # steps were validated may have no higher priority).
            logger.warning("clock sweep: could not raise #%s: %s", handoff_id, exc)
            result.errors.append(
                {"handoff": handoff_id, "clocks": clock_ids, "error": f"raise: {exc}"[:500]}
            )


def _failed(handoff_id, clock_ids, now, exc, result: SweepResult) -> None:
    """Record the failure and put the clocks back in line later, with backoff."""
    result.errors.append(
        {"handoff": handoff_id, "clocks": clock_ids, "error": f"{type(exc).__name__}: {exc}"[:500]}
    )
    with transaction.atomic():
        for clock in Clock.objects.select_for_update(no_key=True, skip_locked=True).filter(
            pk__in=clock_ids
        ):
            failures = clock.sweep_failures + 1
            Clock.objects.filter(pk=clock.pk).update(
                sweep_failures=F("sweep_failures") + 1,
                next_step_at=max(clock.next_step_at or now, now) + backoff(failures),
            )


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
        failed=result.failed,
        errors=result.errors[:100],
    )
    oldest_kept = SweepRun.objects.order_by("-started_at").values("started_at")[keep - 1 : keep]
    SweepRun.objects.filter(started_at__lt=oldest_kept).delete()
    return run
