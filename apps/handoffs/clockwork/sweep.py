"""The clock sweep: fire the warnings, breaches and escalation steps that have come due.

Work grows with what is due, not with what runs: the sweep reads only running clocks whose
`next_step_at` has passed (partial index), a batch at a time.

Sweeps and people never wait on each other:
- one short transaction per handoff: lock the handoff `FOR NO KEY UPDATE SKIP LOCKED`,
  then its clocks — the order the services use — so a person acting on a handoff waits
  at most for one handoff's work, and a handoff someone is acting on is skipped this
  round (it stays due; the next sweep takes it);
- the priority raise a step asks for runs inside that handoff's transaction, under the
  locks already held, in a savepoint: if it cannot be applied the step still stands;
- each step is claimed with a conditional UPDATE (`fired_percent`, `breached_at IS NULL`)
  and notifications carry unique dedup keys: any number of sweeps at once fire each step
  once;
- a clock that fails is rolled back alone, recorded on the SweepRun with its error,
  and retried with backoff (`sweep_failures`) instead of staying first in line;
- a batch stops taking new handoffs when its time budget is spent; the task runs the
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

from .. import services as handoff_services
from ..models import OPEN_STATUSES, Clock, ClockStatus, SweepRun
from . import services, store
from .store import Contexts

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_SECONDS = 20.0
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
    contexts = Contexts()
    for handoff_id, clock_ids in by_handoff.items():
        if time.perf_counter() - started > budget_seconds:
            result.more = True
            break
        try:
            with transaction.atomic():
                _sweep_handoff(handoff_id, clock_ids, now, contexts, result)
        except Exception as exc:  # one clock must never stop the sweep
            logger.exception("clock sweep: handoff %s failed", handoff_id)
            _failed(handoff_id, clock_ids, now, exc, result)
    else:
        result.more = len(due) >= batch_size
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


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
        result.clocks += 1
        result.warnings += fired.warnings
        result.breaches += fired.breaches
        result.escalations += fired.escalations
        result.fired += [(clock.pk, clock.metric, p) for p in fired.percents]
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
