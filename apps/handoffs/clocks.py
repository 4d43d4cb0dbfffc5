"""SLA clock arithmetic: consumed business time, due moments and escalation moments.

Everything here takes `now` (and the business hours) as arguments: no database reads,
no wall clock. Services load what is needed and call these on each transition.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time

from apps.calendars.businesstime import BusinessHours

from .models import Clock, ClockStatus

ALWAYS = {day: [(time(0), time(0))] for day in range(7)}


def business_hours(agreement, *, around_the_clock: bool, windows: Iterable = ()) -> BusinessHours:
    """The hours a clock runs on: the agreement's calendar, or 24×7 for targets that say
    so; approved exception windows never count, exactly like holidays."""
    closed = [(w.start, w.end) for w in windows]
    if around_the_clock:
        return BusinessHours("UTC", ALWAYS, closed=closed)
    return agreement.calendar.business_hours(closed=closed)


def consumed_at(clock: Clock, hours: BusinessHours, now: datetime) -> int:
    """Business seconds consumed by `now`."""
    if clock.status == ClockStatus.RUNNING and clock.segment_started_at is not None:
        return clock.consumed_seconds + hours.between(clock.segment_started_at, now)
    return clock.consumed_seconds


def moment_of(clock: Clock, hours: BusinessHours, seconds: int) -> datetime | None:
    """When the running clock reaches `seconds` consumed (None if paused or stopped).
    Already past: the segment start stands in, so overdue sorts first."""
    if clock.status != ClockStatus.RUNNING or clock.segment_started_at is None:
        return None
    remaining = seconds - clock.consumed_seconds
    if remaining <= 0:
        return clock.segment_started_at
    return hours.add(clock.segment_started_at, remaining)


def step_percents(warning_threshold: int, ladder: Iterable[int]) -> list[int]:
    """Every moment a clock must be looked at: the warning, the breach (100 %) and each
    escalation step, in percent of the target."""
    return sorted({warning_threshold, 100, *ladder})


def refresh_deadlines(
    clock: Clock, hours: BusinessHours, *, warning_threshold: int, ladder: Iterable[int]
) -> None:
    """Recompute `due_at` and `next_step_at` of a clock (in memory) from its state."""
    if clock.status != ClockStatus.RUNNING or clock.target_seconds is None:
        clock.due_at = None
        clock.warning_at = None
        clock.next_step_at = None
        return
    clock.due_at = moment_of(clock, hours, clock.target_seconds)
    clock.warning_at = moment_of(
        clock, hours, _ceil_percent(clock.target_seconds, warning_threshold)
    )
    pending = [p for p in step_percents(warning_threshold, ladder) if p > clock.fired_percent]
    if not pending:
        clock.next_step_at = None
        return
    clock.next_step_at = moment_of(clock, hours, _ceil_percent(clock.target_seconds, pending[0]))


def _ceil_percent(seconds: int, percent: int) -> int:
    # Ceil: a step at 75 % of 30 min fires once 1350 s have elapsed, not a second before.
    return -(-seconds * percent // 100)


def pause(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    """Store the consumed time and stop counting; deadlines are cleared."""
    clock.consumed_seconds = consumed_at(clock, hours, now)
    clock.status = ClockStatus.PAUSED
    clock.segment_started_at = None
    clock.pauses = [*clock.pauses, [now.astimezone(UTC).isoformat(), None]]
    clock.due_at = None
    clock.warning_at = None
    clock.next_step_at = None


def resume(clock: Clock, now: datetime) -> None:
    """Count again from `now`, from what had been consumed."""
    if clock.pauses and clock.pauses[-1][1] is None:
        started = datetime.fromisoformat(clock.pauses[-1][0])
        clock.pauses = [*clock.pauses[:-1], [clock.pauses[-1][0], now.astimezone(UTC).isoformat()]]
        clock.paused_seconds += max(0, int((now - started).total_seconds()))
    clock.status = ClockStatus.RUNNING
    clock.segment_started_at = now


def stop(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    """The metric is done: met if consumed ≤ target (or best effort), else breached."""
    if clock.status == ClockStatus.PAUSED:
        resume(clock, now)
    ran_out_at = moment_of(clock, hours, clock.target_seconds) if clock.target_seconds else None
    clock.consumed_seconds = consumed_at(clock, hours, now)
    clock.segment_started_at = None
    clock.stopped_at = now
    clock.due_at = None
    clock.warning_at = None
    clock.next_step_at = None
    if clock.target_seconds is None or clock.consumed_seconds <= clock.target_seconds:
        clock.status = ClockStatus.MET
        clock.met_at = now
    else:
        clock.status = ClockStatus.BREACHED
        # The breach happened when the target ran out, not when it was noticed (the
        # sweep may not have passed yet).
        clock.breached_at = clock.breached_at or ran_out_at or now


def reopen(clock: Clock, now: datetime) -> None:
    """Run again from what had been consumed (a reopened handoff is not a new one)."""
    clock.status = ClockStatus.RUNNING
    clock.segment_started_at = now
    clock.met_at = None
    clock.stopped_at = None


def cancel(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    if clock.status == ClockStatus.PAUSED:
        resume(clock, now)
    clock.consumed_seconds = consumed_at(clock, hours, now)
    clock.status = ClockStatus.CANCELLED
    clock.segment_started_at = None
    clock.stopped_at = now
    clock.due_at = None
    clock.warning_at = None
    clock.next_step_at = None


def retarget(
    clock: Clock,
    target_seconds: int | None,
    around_the_clock: bool,
    hours_before: BusinessHours,
    now: datetime,
) -> None:
    """A priority change keeps the consumed time and applies the new target."""
    if clock.status == ClockStatus.RUNNING:
        clock.consumed_seconds = consumed_at(clock, hours_before, now)
        clock.segment_started_at = now
    clock.target_seconds = target_seconds
    clock.around_the_clock = around_the_clock
    # `fired_percent` is kept: steps already fired are not repeated, and steps of a
    # shorter target that now lie in the past fall due at once for the sweep.
