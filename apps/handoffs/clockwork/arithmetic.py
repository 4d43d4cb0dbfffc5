"""The clock's arithmetic: consumed business time, deadlines, the ladder, the verdict.

Pure: everything takes the clock's own record, the business hours and `now` as arguments;
no database reads, no wall clock. The store loads what is needed and calls these; the
services decide what to record; the sweep only asks the services.

A clock's history is the list of intervals it ran (`segments`); consumed time is
`carried_seconds` plus the business time inside them, under the calendar and exception
windows as they are now. `consumed_seconds` and `segment_started_at` are caches of that
sum and of the open interval's start, refreshed by `recount`.

The ladder (DESIGN "Domain", README "How clocks decide"):
- steps below 100 % (the warning and early escalations) fall due when the consumed time
  reaches that share of the target;
- the breach falls due once business time has passed *beyond* the target (a target that
  ends at closing time on Friday breaches at opening on Monday, not at 17:00 on Friday);
  escalation steps at exactly 100 % go with it;
- steps above 100 % count from where the clock went over: the target, or, if a priority
  change put the clock over its new target at once, the time consumed at that change — so
  after a raise the rest of the ladder is spaced on the new target instead of firing at
  once;
- after a target change (`rebased_at`), no step falls due before the change;
- when several steps are due at once (a late sweep, a raise), only the highest of them
  fires; a warning never fires once the breach is due or recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from apps.calendars.businesstime import BusinessHours

from ..models import Clock, ClockStatus

ALWAYS = {day: [(time(0), time(0))] for day in range(7)}

# What a person reads from a clock (one verdict: `verdict` and its SQL twin in .verdict).
MET = "met"
BREACHED = "breached"
AT_RISK = "at_risk"
ON_TRACK = "on_track"
PAUSED = "paused"
CANCELLED = "cancelled"

BREACH_PERCENT = 100


def business_hours(agreement, *, around_the_clock: bool, windows: Iterable = ()) -> BusinessHours:
    """The hours a clock runs on: the agreement's calendar, or 24×7 for targets that say
    so; approved exception windows never count, exactly like holidays."""
    closed = [(w.start, w.end) for w in windows]
    if around_the_clock:
        return BusinessHours("UTC", ALWAYS, closed=closed)
    return agreement.calendar.business_hours(closed=closed)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def segments(clock: Clock) -> list[tuple[datetime, datetime | None]]:
    return [
        (datetime.fromisoformat(s), datetime.fromisoformat(e) if e else None)
        for s, e in clock.segments
    ]


def ceil_percent(seconds: int, percent: int) -> int:
    # Ceil: a step at 75 % of 30 min falls due once 1350 s have elapsed, not a second before.
    return -(-seconds * percent // 100)


# --- consumed time -------------------------------------------------------------------------


def recount(clock: Clock, hours: BusinessHours) -> None:
    """Recompute the caches from the history: consumed time of the closed intervals and the
    start of the open one."""
    total = clock.carried_seconds
    open_start = None
    for start, end in segments(clock):
        if end is None:
            open_start = start
        elif end > start:
            total += hours.between(start, end)
    clock.consumed_seconds = total
    clock.segment_started_at = open_start


def consumed_at(clock: Clock, hours: BusinessHours, now: datetime) -> int:
    """Business seconds consumed by `now`."""
    start = clock.segment_started_at
    if clock.status == ClockStatus.RUNNING and start is not None and now > start:
        return clock.consumed_seconds + hours.between(start, now)
    return clock.consumed_seconds


def consumed_through(clock: Clock, hours: BusinessHours, moment: datetime) -> int:
    """Business seconds consumed by a past `moment`, from the history."""
    total = clock.carried_seconds
    for start, end in segments(clock):
        if start >= moment:
            break
        stop = moment if end is None or end > moment else end
        total += hours.between(start, stop)
    return total


def moment_consumed(clock: Clock, hours: BusinessHours, seconds: int) -> datetime | None:
    """The earliest moment at which `seconds` of business time were (or will be) consumed;
    None if the clock does not run and has not got there."""
    total = clock.carried_seconds
    history = segments(clock)
    if seconds <= total:
        # Reached before the recorded history (a migrated row, or a change that folded it).
        return history[0][0] if history else clock.started_at
    for start, end in history:
        if end is None:
            return hours.add(start, seconds - total)
        if end <= start:
            continue
        elapsed = hours.between(start, end)
        if total + elapsed >= seconds:
            return hours.add(start, seconds - total)
        total += elapsed
    return None


# --- the ladder ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    """A moment on a clock's ladder: the warning, the breach, or escalation steps."""

    percent: int
    kind: str  # "warning" | "breach" | "escalation"
    steps: tuple = ()  # the agreement's EscalationSteps at this percent


def ladder(warning_threshold: int, steps: Sequence) -> list[Rung]:
    """Every rung of one metric's ladder, lowest first. `steps` are that metric's
    escalation steps (anything with `.percent`)."""
    by_percent: dict[int, list] = {}
    for step in steps:
        by_percent.setdefault(step.percent, []).append(step)
    rungs = []
    for percent in sorted({warning_threshold, BREACH_PERCENT, *by_percent}):
        if percent == BREACH_PERCENT:
            kind = "breach"
        elif percent == warning_threshold:
            kind = "warning"
        else:
            kind = "escalation"
        rungs.append(Rung(percent, kind, tuple(by_percent.get(percent, ()))))
    return rungs


def _base(clock: Clock, hours: BusinessHours) -> int:
    """Where steps above 100 % count from: the target, or the time consumed at the last
    target change if that change put the clock over its target at once."""
    target = clock.target_seconds
    if clock.rebased_at is None:
        return target
    return max(target, consumed_through(clock, hours, clock.rebased_at))


def threshold(clock: Clock, rung: Rung, base: int) -> int:
    """Consumed seconds at which a rung falls due."""
    target = clock.target_seconds
    if rung.percent < BREACH_PERCENT:
        return ceil_percent(target, rung.percent)
    if rung.percent == BREACH_PERCENT:
        return target + 1  # beyond the target, not at it
    return base + ceil_percent(target, rung.percent - BREACH_PERCENT)


def is_pending(clock: Clock, rung: Rung) -> bool:
    if rung.percent < BREACH_PERCENT:
        return rung.percent > clock.fired_percent and clock.breached_at is None
    if rung.percent == BREACH_PERCENT:
        return clock.breached_at is None
    return rung.percent > clock.fired_percent


def rung_moment(clock: Clock, hours: BusinessHours, rung: Rung, base: int) -> datetime | None:
    moment = moment_consumed(clock, hours, threshold(clock, rung, base))
    if moment is not None and clock.rebased_at is not None and moment < clock.rebased_at:
        moment = clock.rebased_at
    return moment


def due_rungs(
    clock: Clock, hours: BusinessHours, rungs: Sequence[Rung], now: datetime
) -> tuple[list[Rung], int]:
    """What fires at `now`: at most the breach and the highest due step of its side of
    the ladder; and the new `fired_percent` (every due rung counts as passed)."""
    if clock.status != ClockStatus.RUNNING or clock.target_seconds is None:
        return [], clock.fired_percent
    base = _base(clock, hours)
    due = [
        rung
        for rung in rungs
        if is_pending(clock, rung)
        and (moment := rung_moment(clock, hours, rung, base)) is not None
        and moment <= now
    ]
    if not due:
        return [], clock.fired_percent
    breach = next((r for r in due if r.percent == BREACH_PERCENT), None)
    above = [r for r in due if r.percent > BREACH_PERCENT]
    fire = []
    if breach is not None:
        fire.append(breach)
        if above:
            fire.append(above[-1])
    elif above:
        fire.append(above[-1])
    else:
        fire.append(due[-1])  # the highest early step; warnings below it are stale
    return fire, max(clock.fired_percent, due[-1].percent)


# --- deadlines -----------------------------------------------------------------------------


def refresh(clock: Clock, hours: BusinessHours, *, warning_threshold: int, steps: Sequence) -> None:
    """Recompute `due_at`, `warning_at`, `breach_at` and `next_step_at` (in memory) from
    the clock's history. Only a running clock with a target has deadlines."""
    if clock.status != ClockStatus.RUNNING or clock.target_seconds is None:
        clock.due_at = clock.warning_at = clock.breach_at = clock.next_step_at = None
        return
    target = clock.target_seconds
    clock.due_at = moment_consumed(clock, hours, target)
    clock.warning_at = moment_consumed(clock, hours, ceil_percent(target, warning_threshold))
    breach_at = moment_consumed(clock, hours, target + 1)
    if breach_at is not None and clock.rebased_at is not None and breach_at < clock.rebased_at:
        breach_at = clock.rebased_at
    clock.breach_at = breach_at
    base = _base(clock, hours)
    moments = [
        moment
        for rung in ladder(warning_threshold, steps)
        if is_pending(clock, rung) and (moment := rung_moment(clock, hours, rung, base)) is not None
    ]
    clock.next_step_at = min(moments) if moments else None


def overdue(clock: Clock, hours: BusinessHours, now: datetime) -> bool:
    """Business time has passed beyond the target by `now`."""
    return clock.target_seconds is not None and consumed_at(clock, hours, now) > (
        clock.target_seconds
    )


def breach_moment(clock: Clock, hours: BusinessHours, now: datetime) -> datetime:
    """When an overdue clock went over: the first moment past its target (never before
    its last target change, never after `now`)."""
    moment = moment_consumed(clock, hours, clock.target_seconds + 1) or now
    if clock.rebased_at is not None and moment < clock.rebased_at:
        moment = clock.rebased_at
    return min(moment, now)


# --- transitions (in memory; the store saves) ---------------------------------------------


def start(clock: Clock, now: datetime) -> None:
    clock.status = ClockStatus.RUNNING
    clock.started_at = now
    clock.segments = [[_iso(now), None]]
    clock.segment_started_at = now


def _close_segment(clock: Clock, now: datetime) -> None:
    if clock.segments and clock.segments[-1][1] is None:
        start_iso = clock.segments[-1][0]
        end = max(now, datetime.fromisoformat(start_iso))
        clock.segments = [*clock.segments[:-1], [start_iso, _iso(end)]]


def _open_segment(clock: Clock, now: datetime) -> None:
    if not clock.segments or clock.segments[-1][1] is not None:
        clock.segments = [*clock.segments, [_iso(now), None]]


def pause(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    """Stop counting; what was consumed is kept; deadlines are cleared."""
    _close_segment(clock, now)
    clock.status = ClockStatus.PAUSED
    recount(clock, hours)
    clock.pauses = [*clock.pauses, [_iso(now), None]]


def resume(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    """Count again from `now`, from what had been consumed."""
    if clock.pauses and clock.pauses[-1][1] is None:
        started = datetime.fromisoformat(clock.pauses[-1][0])
        clock.pauses = [*clock.pauses[:-1], [clock.pauses[-1][0], _iso(now)]]
        clock.paused_seconds += max(0, int((now - started).total_seconds()))
    clock.status = ClockStatus.RUNNING
    _open_segment(clock, now)
    recount(clock, hours)


def stop(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    """The metric is done. The verdict is the record's: breached if a breach was recorded
    (the services record an overdue clock's breach before stopping it), else met."""
    if clock.status == ClockStatus.PAUSED:
        resume(clock, hours, now)
    _close_segment(clock, now)
    recount(clock, hours)
    clock.stopped_at = now
    if clock.breached_at is not None:
        clock.status = ClockStatus.BREACHED
    else:
        clock.status = ClockStatus.MET
        clock.met_at = now


def reopen(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    """Run again from what had been consumed (a reopened handoff is not a new one); a
    breach recorded before stays recorded."""
    clock.status = ClockStatus.RUNNING
    clock.met_at = None
    clock.stopped_at = None
    _open_segment(clock, now)
    recount(clock, hours)


def cancel(clock: Clock, hours: BusinessHours, now: datetime) -> None:
    if clock.status == ClockStatus.PAUSED:
        resume(clock, hours, now)
    _close_segment(clock, now)
    recount(clock, hours)
    clock.status = ClockStatus.CANCELLED
    clock.stopped_at = now


def retarget(
    clock: Clock,
    target_seconds: int | None,
    around_the_clock: bool,
    hours_before: BusinessHours,
    now: datetime,
) -> None:
    """A priority change keeps the consumed time and applies the new target; the ladder is
    re-based on it from `now` (`rebased_at`). Switching between the calendar and 24×7
    folds the history into `carried_seconds`: time already consumed was business time on
    the old hours and stays what it was."""
    if around_the_clock != clock.around_the_clock:
        running = clock.status == ClockStatus.RUNNING
        clock.carried_seconds = consumed_at(clock, hours_before, now)
        clock.consumed_seconds = clock.carried_seconds
        clock.segments = [[_iso(now), None]] if running else []
        clock.segment_started_at = now if running else None
    clock.target_seconds = target_seconds
    clock.around_the_clock = around_the_clock
    clock.rebased_at = now


# --- the verdict ---------------------------------------------------------------------------


def verdict(clock: Clock, now: datetime) -> str:
    """The one verdict on a clock at `now`, from its record alone. Its SQL twin is in
    `clockwork.verdict`; every surface (sweep, badge, tabs, dashboard, reports, breach
    reviews) reads one or the other."""
    if clock.status == ClockStatus.CANCELLED:
        return CANCELLED
    if clock.status == ClockStatus.MET:
        return MET
    if clock.status == ClockStatus.BREACHED or clock.breached_at is not None:
        return BREACHED
    if clock.status == ClockStatus.PAUSED:
        return PAUSED
    if clock.breach_at is not None and clock.breach_at <= now:
        return BREACHED
    if clock.warning_at is not None and clock.warning_at <= now:
        return AT_RISK
    return ON_TRACK
