"""The clock sweep: fire the warnings, breaches and escalation steps that have come due.

Work grows with what is due, not with what runs: the sweep reads only running clocks whose
`next_step_at` has passed (partial index), a batch at a time.

Sweeps and people never wait on each other, and each step fires once:
- a batch (at most 500 clocks) is worked in groups of at most GROUP handoffs, one short
  transaction per group: lock the group's handoffs `FOR NO KEY UPDATE SKIP LOCKED` (with
  the assignee and both teams), then their clocks — the order the services use — so a
  person acting on a handoff waits at most for one group's work (a few tens of ms), and a
  handoff someone is acting on is skipped this round (it stays due; the next sweep takes
  it);
- in a group, the steps are decided on the locked clocks in memory and written in a few
  statements whatever the group's size (store.BatchLedger): one UPDATE of the claims and
  next steps, conditional on every clock still being as read under the lock (any number
  of sweeps at once fire each step once; notifications carry unique dedup keys as well),
  one INSERT of the timeline events, one batch notify (notify_many);
- the priority raise a step asks for runs inside the group's transaction, under the
  locks already held, after the group's writes, in a savepoint: if it cannot be applied
  the step still stands;
- a group that fails is rolled back whole and worked again one handoff at a time, each in
  its own transaction with conditional UPDATEs per step (the path the sweep always took):
  a handoff that fails there is rolled back alone, recorded on the SweepRun with its
  error, and retried with backoff (`sweep_failures`) instead of staying first in line;
- a batch stops taking new groups when its time budget is spent; the task runs the
  next batch as a new task (its own time limit).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.urls import reverse

from apps.notifications import services as notifications

from .. import services as handoff_services
from ..models import OPEN_STATUSES, Clock, ClockStatus, Handoff, SweepRun
from . import services, store
from .store import Contexts

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_SECONDS = 20.0
# Handoffs per transaction: a group is sized from the last one's pace to take about
# GROUP_SECONDS, between MIN_GROUP and GROUP handoffs (a person waits at most for one
# group's work; a loaded machine makes groups smaller, not transactions longer).
GROUP = 50
MIN_GROUP = 2
GROUP_SECONDS = 0.05
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
    groups: int = 0  # transactions taken by groups of handoffs
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
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    budget_seconds: float = BATCH_SECONDS,
    group: int = GROUP,
) -> SweepResult:
    """Advance the running clocks whose next step is due at `now`: one batch of at most
    `batch_size` clocks within `budget_seconds`, `group` handoffs per transaction;
    `result.more` says whether clocks are still due."""
    started = time.perf_counter()
    result = SweepResult()
    # Load the URLconf (notification links) before any handoff is locked: the first
    # reverse() in a fresh worker process costs a second or more, and must not be spent
    # holding a handoff somebody may be acting on.
    reverse("handoffs:detail", kwargs={"pk": 1})
    due = list(
        Clock.objects.filter(status=ClockStatus.RUNNING, next_step_at__lte=now)
        .order_by("next_step_at", "pk")
        .values_list("pk", "handoff_id")[:batch_size]
    )
    by_handoff: dict[int, list[int]] = {}
    for clock_id, handoff_id in due:
        by_handoff.setdefault(handoff_id, []).append(clock_id)
    batch = Batch(now, Contexts())
    pending = list(by_handoff.items())
    size, start = min(group, 5), 0
    while start < len(pending):
        if time.perf_counter() - started > budget_seconds:
            result.more = True
            break
        chunk = dict(pending[start : start + size])
        start += size
        began, done = time.perf_counter(), SweepResult()
        try:
            with transaction.atomic():
                _sweep_group(chunk, batch, done)
        except Exception:  # rolled back whole: its handoffs again, one at a time
            logger.exception("clock sweep: a group failed; taking it one handoff at a time")
            done = SweepResult()
            _sweep_one_by_one(chunk, batch, done, started, budget_seconds)
        _add(result, done)
        if done.more:
            result.more = True
            break
        pace = (time.perf_counter() - began) / len(chunk)
        size = max(MIN_GROUP, min(group, int(GROUP_SECONDS / pace) if pace > 0 else group))
    else:
        result.more = len(due) >= batch_size
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


class Batch:
    """What a batch reads once for all its groups: the agreement versions' clock contexts,
    who a step naming a team or a role reaches, each calendar's next open hours."""

    def __init__(self, now: datetime, contexts: Contexts):
        self.now, self.contexts = now, contexts
        self.people: dict = {}
        self.opens: dict = {}


def _add(result: SweepResult, done: SweepResult) -> None:
    for name in ("clocks", "warnings", "breaches", "escalations", "raised", "skipped", "groups"):
        setattr(result, name, getattr(result, name) + getattr(done, name))
    result.fired += done.fired
    result.errors += done.errors


def _sweep_group(chunk: dict[int, list[int]], batch: Batch, result: SweepResult) -> None:
    """One transaction: lock the group's free handoffs and their clocks, fire what is due
    on them in memory, write it in a few statements, then the priority raises."""
    now = batch.now
    result.groups += 1
    handoffs = list(
        Handoff.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
        .filter(pk__in=list(chunk))
        .select_related("assignee", "provider_team", "requesting_team")
        .order_by("pk")
    )
    result.skipped += len(chunk) - len(handoffs)
    if not handoffs:
        return
    clocks: dict[int, list[Clock]] = {}
    for clock in (
        Clock.objects.select_for_update(no_key=True)
        .filter(handoff_id__in=[h.pk for h in handoffs])
        .order_by("handoff_id", "pk")
    ):
        clocks.setdefault(clock.handoff_id, []).append(clock)
    ledger = store.BatchLedger(batch.people, batch.opens)
    raises = []
    for handoff in handoffs:
        ctx = batch.contexts[handoff.agreement_id]
        raise_priority = False
        for clock in _due(clocks.get(handoff.pk, []), chunk[handoff.pk], now):
            clock.handoff = handoff
            ledger.hold(clock)
            fired = services.clock_advance(clock=clock, now=now, context=ctx, ledger=ledger)
            _tally(result, clock, fired)
            raise_priority |= fired.raise_priority
        if raise_priority and handoff.status in OPEN_STATUSES:
            raises.append(handoff)
    ledger.flush()
    notifications.notify_many(ledger.deliveries, now=now)
    for handoff in raises:
        _raise(handoff, chunk[handoff.pk], now, result)


def _due(clocks: list[Clock], clock_ids: list[int], now: datetime) -> list[Clock]:
    """The clocks still due once locked (another sweep or a person may have moved them)."""
    return [
        c
        for c in clocks
        if c.pk in clock_ids
        and c.status == ClockStatus.RUNNING
        and c.next_step_at
        and c.next_step_at <= now
    ]


def _tally(result: SweepResult, clock: Clock, fired) -> None:
    result.clocks += 1
    result.warnings += fired.warnings
    result.breaches += fired.breaches
    result.escalations += fired.escalations
    result.fired += [(clock.pk, clock.metric, p) for p in fired.percents]


def _raise(handoff, clock_ids, now: datetime, result: SweepResult) -> None:
    try:
        with transaction.atomic():
            if handoff_services.handoff_raise_priority(handoff=handoff, now=now):
                result.raised += 1
    except Exception as exc:
        # The steps stand; the raise is reported (an agreement saved before raise
        # steps were validated may have no higher priority).
        logger.warning("clock sweep: could not raise #%s: %s", handoff.pk, exc)
        result.errors.append(
            {"handoff": handoff.pk, "clocks": clock_ids, "error": f"raise: {exc}"[:500]}
        )


def _sweep_one_by_one(chunk, batch: Batch, result: SweepResult, started, budget) -> None:
    """A failed group again, one handoff per transaction, each step its own claim."""
    for handoff_id, clock_ids in chunk.items():
        if time.perf_counter() - started > budget:
            result.more = True
            return
        try:
            with transaction.atomic():
                _sweep_handoff(handoff_id, clock_ids, batch.now, batch.contexts, result)
        except Exception as exc:  # one clock must never stop the sweep
            logger.exception("clock sweep: handoff %s failed", handoff_id)
            _failed(handoff_id, clock_ids, batch.now, exc, result)


def _sweep_handoff(handoff_id, clock_ids, now, contexts, result: SweepResult) -> None:
    handoff = store.lock_handoff(handoff_id, skip_locked=True)
    if handoff is None:
        result.skipped += 1
        return
    ctx = contexts[handoff.agreement_id]
    raise_priority = False
    for clock in _due(store.lock_clocks(handoff_id), clock_ids, now):
        clock.handoff = handoff
        fired = services.clock_advance(clock=clock, now=now, context=ctx)
        _tally(result, clock, fired)
        raise_priority |= fired.raise_priority
    if raise_priority and handoff.status in OPEN_STATUSES:
        _raise(handoff, clock_ids, now, result)


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
