"""Loading, locking and saving clocks, and writing their timeline events.

The one place that writes clock rows and clock events. Lock order everywhere: the handoff
first, then its clocks, both `FOR NO KEY UPDATE` (no key column ever changes, and the
foreign-key checks of the events and notifications inserted meanwhile take `FOR KEY
SHARE`, which a NO KEY lock does not block — a plain `FOR UPDATE` would).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Q

from apps.agreements.models import Agreement, ExceptionWindow

from ..models import Clock, ClockStatus, Handoff, HandoffEvent
from . import arithmetic

STATE_FIELDS = (
    "target_seconds",
    "around_the_clock",
    "status",
    "segment_started_at",
    "segments",
    "carried_seconds",
    "consumed_seconds",
    "paused_seconds",
    "pauses",
    "due_at",
    "warning_at",
    "breach_at",
    "next_step_at",
    "rebased_at",
    "fired_percent",
    "met_at",
    "breached_at",
    "stopped_at",
    "sweep_failures",
    # What the clock adds to the rollups (clockwork.rollups.settle sets it).
    "rollup",
)
DEADLINE_FIELDS = (
    "segment_started_at",
    "consumed_seconds",
    "due_at",
    "warning_at",
    "breach_at",
    "next_step_at",
    "breached_at",
    "fired_percent",
)


class ClockContext:
    """What the arithmetic needs for the clocks of one agreement version, loaded once:
    the calendar, the escalation ladder and the approved exception windows covering it."""

    def __init__(self, agreement: Agreement, windows: Sequence[ExceptionWindow]):
        self.agreement = agreement
        self.windows = list(windows)
        self._hours: dict = {}
        self._rungs: dict = {}

    @classmethod
    def load(cls, agreement_id: int) -> ClockContext:
        agreement = (
            Agreement.objects.select_related("series", "calendar")
            .prefetch_related("calendar__intervals", "calendar__holidays", "escalation_steps")
            .get(pk=agreement_id)
        )
        windows = ExceptionWindow.objects.approved().covering(agreement)
        return cls(agreement, windows)

    def hours(self, around_the_clock: bool):
        if around_the_clock not in self._hours:
            self._hours[around_the_clock] = arithmetic.business_hours(
                self.agreement, around_the_clock=around_the_clock, windows=self.windows
            )
        return self._hours[around_the_clock]

    def steps(self, metric: str) -> list:
        return [s for s in self.agreement.escalation_steps.all() if s.metric == metric]

    def rungs(self, metric: str) -> list[arithmetic.Rung]:
        if metric not in self._rungs:
            self._rungs[metric] = arithmetic.ladder(
                self.agreement.warning_threshold, self.steps(metric)
            )
        return self._rungs[metric]

    def recount(self, clock: Clock) -> None:
        arithmetic.recount(clock, self.hours(clock.around_the_clock))

    def refresh(self, clock: Clock) -> None:
        arithmetic.refresh(
            clock,
            self.hours(clock.around_the_clock),
            warning_threshold=self.agreement.warning_threshold,
            steps=self.steps(clock.metric),
        )


class Contexts(dict):
    """ClockContexts by agreement id, loaded on first use (a sweep or a batch meets many
    handoffs of few agreement versions)."""

    def __missing__(self, agreement_id: int) -> ClockContext:
        context = self[agreement_id] = ClockContext.load(agreement_id)
        return context


# --- locking -------------------------------------------------------------------------------


def lock_handoff(handoff_id: int, *, skip_locked: bool = False) -> Handoff | None:
    """The handoff, locked (None if `skip_locked` and someone else holds it)."""
    return (
        Handoff.objects.select_for_update(no_key=True, skip_locked=skip_locked, of=("self",))
        .filter(pk=handoff_id)
        .first()
    )


def lock_clocks(handoff_id: int) -> list[Clock]:
    """The handoff's clocks, locked, in one order (the caller holds the handoff)."""
    return list(
        Clock.objects.select_for_update(no_key=True).filter(handoff_id=handoff_id).order_by("pk")
    )


# --- saving --------------------------------------------------------------------------------


def state(clock: Clock) -> tuple:
    return tuple(getattr(clock, f) for f in STATE_FIELDS)


def save(clocks: Iterable[Clock], before: dict[int, tuple]) -> None:
    """Write the clocks that changed: one plain UPDATE each (a transition touches one to
    three clocks; cheaper than bulk_update's CASE expressions)."""
    for clock in clocks:
        if before.get(clock.pk) != state(clock):
            Clock.objects.filter(pk=clock.pk).update(**{f: getattr(clock, f) for f in STATE_FIELDS})


def save_many(clocks: Sequence[Clock], fields: Sequence[str] = DEADLINE_FIELDS) -> None:
    """Write a batch of clocks in one statement."""
    if clocks:
        Clock.objects.bulk_update(clocks, list(fields))


def handoff_due(clocks: Iterable[Clock]) -> datetime | None:
    """The handoff's sort key: the soonest deadline among its running clocks."""
    due = [c.due_at for c in clocks if c.status == ClockStatus.RUNNING and c.due_at]
    return min(due) if due else None


def save_handoff_due(handoff: Handoff, clocks: Iterable[Clock]) -> None:
    due = handoff_due(clocks)
    if due != handoff.due_at:
        handoff.due_at = due
        Handoff.objects.filter(pk=handoff.pk).update(due_at=due)


def save_handoffs_due(due_by_handoff: dict[int, datetime | None]) -> None:
    """Write many handoffs' sort keys in one statement."""
    if not due_by_handoff:
        return
    rows = [Handoff(pk=pk, due_at=due) for pk, due in due_by_handoff.items()]
    Handoff.objects.bulk_update(rows, ["due_at"])


# --- events --------------------------------------------------------------------------------


def clock_event(
    handoff: Handoff | int, kind: str, *, clock: Clock, now: datetime, actor=None, **after
) -> HandoffEvent:
    """A clock's line on the timeline (met, breached, warned, escalated, withdrawn)."""
    return HandoffEvent(
        handoff_id=handoff if isinstance(handoff, int) else handoff.pk,
        kind=kind,
        actor=actor,
        created_at=now,
        after={"metric": clock.metric, **after},
    )


def record(events: Sequence[HandoffEvent]) -> None:
    """Write clock events (one INSERT for the lot)."""
    if events:
        HandoffEvent.objects.bulk_create(list(events))


# --- what a change of windows or calendar covers ------------------------------------------


def live_clocks_covered_by_window(window: ExceptionWindow):
    """Running and paused clocks an exception window applies to."""
    covered = Q(handoff__provider_team_id=window.provider_team_id)
    if window.series_id is not None:
        covered &= Q(handoff__agreement__series_id=window.series_id)
    return Clock.objects.filter(covered, status__in=(ClockStatus.RUNNING, ClockStatus.PAUSED))


def live_clocks_on_calendar(calendar_id: int):
    """Running and paused clocks that run on a calendar (not the 24×7 ones)."""
    return Clock.objects.filter(
        handoff__agreement__calendar_id=calendar_id,
        around_the_clock=False,
        status__in=(ClockStatus.RUNNING, ClockStatus.PAUSED),
    )
