"""Read queries for handoffs (every one starts from `visible_to(user)`) and the figures a
queue row shows, computed for a page of rows with no query per row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.shortcuts import get_object_or_404

from apps.agreements.models import ExceptionWindow

from .clockwork import arithmetic as clockwork
from .filters import HandoffFilter
from .models import Clock, ClockStatus, Handoff, HandoffEvent


def handoff_get(*, user, pk: int) -> Handoff:
    return get_object_or_404(Handoff.objects.visible_to(user).for_detail(), pk=pk)


def queue(*, user, team, filters: dict | None = None, request=None) -> HandoffFilter:
    """A team's inbound work, soonest due first, filtered."""
    queryset = Handoff.objects.visible_to(user).filter(provider_team=team).for_queue()
    return HandoffFilter(filters or {}, queryset=queryset, request=request)


def outgoing(*, user, team, filters: dict | None = None, request=None) -> HandoffFilter:
    """What a team handed over, soonest due first."""
    queryset = Handoff.objects.visible_to(user).filter(requesting_team=team).for_queue()
    return HandoffFilter(filters or {}, queryset=queryset, request=request)


def timeline(*, handoff: Handoff):
    return (
        HandoffEvent.objects.filter(handoff=handoff)
        .select_related("actor")
        .order_by("created_at", "id")
    )


@dataclass
class ClockReading:
    """A clock as a person reads it at `now`."""

    clock: Clock
    consumed: int
    remaining: int | None  # business seconds left (negative = overdue); None = best effort
    percent: int | None
    verdict: str  # clockwork.arithmetic.verdict: the one verdict
    rag: str  # "green" | "amber" | "red" | "grey", from the verdict


RAG_OF = {
    clockwork.ON_TRACK: "green",
    clockwork.AT_RISK: "amber",
    clockwork.BREACHED: "red",
    clockwork.MET: "grey",
    clockwork.CANCELLED: "grey",
    clockwork.PAUSED: "grey",
}


class ClockReader:
    """Reads clocks of many handoffs with business hours built once per calendar.

    Prefetch what `Handoff.objects.for_queue()` or `.for_detail()` prefetch; pass the
    approved exception windows of the teams on the page (one query, `windows_for`).
    The colour and words come from the one verdict (`clockwork.arithmetic.verdict`);
    the business time left is read live from the same hours the deadlines were set on.
    """

    def __init__(self, now: datetime, windows: list[ExceptionWindow] | None = None):
        self.now = now
        self.windows = windows or []
        self._hours: dict = {}

    def _hours_for(self, handoff: Handoff, around_the_clock: bool):
        agreement = handoff.agreement
        key = (agreement.calendar_id, agreement.series_id, around_the_clock)
        if key not in self._hours:
            windows = [
                w
                for w in self.windows
                if w.provider_team_id == handoff.provider_team_id
                and w.series_id in (None, agreement.series_id)
            ]
            self._hours[key] = clockwork.business_hours(
                agreement, around_the_clock=around_the_clock, windows=windows
            )
        return self._hours[key]

    def read(self, handoff: Handoff, clock: Clock) -> ClockReading:
        hours = self._hours_for(handoff, clock.around_the_clock)
        consumed = clockwork.consumed_at(clock, hours, self.now)
        verdict = clockwork.verdict(clock, self.now)
        rag = RAG_OF[verdict]
        if clock.target_seconds is None:
            return ClockReading(clock, consumed, None, None, verdict, "grey")
        remaining = clock.target_seconds - consumed
        percent = consumed * 100 // clock.target_seconds if clock.target_seconds else 100
        if verdict == clockwork.PAUSED and clock.breached_at is None and remaining > 0:
            # Paused: amber when it would resume inside the warning threshold.
            rag = "amber" if percent >= handoff.agreement.warning_threshold else "grey"
        return ClockReading(clock, consumed, remaining, percent, verdict, rag)

    def current(self, handoff: Handoff) -> ClockReading | None:
        """The clock that matters now: the running one due soonest, else the last paused."""
        clocks = list(handoff.clocks.all())
        running = [c for c in clocks if c.status == ClockStatus.RUNNING and c.due_at]
        if running:
            return self.read(handoff, min(running, key=lambda c: c.due_at))
        paused = [c for c in clocks if c.status == ClockStatus.PAUSED]
        return self.read(handoff, paused[0]) if paused else None


def windows_for(team_ids, now: datetime) -> list[ExceptionWindow]:
    """Approved exception windows of these provider teams that ended less than 400 days
    ago: enough for the clocks of the open work on one page, in a single query."""
    return list(
        ExceptionWindow.objects.approved().filter(
            provider_team_id__in=set(team_ids), end__gt=now - timedelta(days=400)
        )
    )
