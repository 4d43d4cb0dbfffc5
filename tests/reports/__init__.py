"""Compliance tests. `finished_handoff` seeds known clock durations in bulk.

Filing through the handoff services and acknowledging at chosen moments is the honest
way to make a clock, and tests/reports/test_compliance_selectors.py does it for a few
handoffs to show the figures read what the services record. Sets of known durations
(seventeen values to take a percentile of, by hand) are written straight to the
database instead, shaped as the services leave a stopped clock: status met when the
consumed business seconds are within the target (or there is none), else breached; and,
as the services do, added to the clock rollups the reports read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apps.handoffs.clockwork import rollups
from apps.handoffs.models import Clock, ClockStatus, Handoff, Status
from tests.factories import UserFactory


def finished_handoff(
    agreement,
    *,
    priority: str,
    created_at: datetime,
    durations: dict[str, int],
    statuses: dict[str, str] | None = None,
    reopen_count: int = 0,
    waiting_seconds: int = 0,
    paused_seconds: int = 0,
    segment: str = "business",
) -> Handoff:
    """A handoff created at `created_at` whose clocks for the metrics in `durations`
    consumed that many business seconds (`statuses` overrides a clock's status: running,
    cancelled…)."""
    target = agreement.target_for(priority)
    handoff = Handoff.objects.create(
        agreement=agreement,
        provider_team_id=agreement.series.provider_team_id,
        requesting_team_id=agreement.series.requesting_team_id,
        title=f"Seeded {priority}",
        priority=priority,
        customer_segment=segment,
        triage={},
        status=Status.CLOSED,
        created_by=UserFactory(username="seeder"),
        reopen_count=reopen_count,
        waiting_seconds=waiting_seconds,
    )
    # created_at is auto_now_add: set the moment afterwards, as handoff_create does.
    Handoff.objects.filter(pk=handoff.pk).update(created_at=created_at)
    handoff.created_at = created_at
    clocks = []
    for metric, consumed in durations.items():
        seconds = target.seconds_for(metric) if target else None
        status = (statuses or {}).get(metric) or (
            ClockStatus.MET if seconds is None or consumed <= seconds else ClockStatus.BREACHED
        )
        stopped = created_at + timedelta(seconds=consumed + paused_seconds)
        clocks.append(
            Clock(
                handoff=handoff,
                metric=metric,
                # The handoff's fields the clock carries for reports, as handoff_create
                # and the other services keep them.
                provider_team_id=handoff.provider_team_id,
                requesting_team_id=handoff.requesting_team_id,
                series_id=agreement.series_id,
                priority=priority,
                customer_segment=segment,
                handoff_reopen_count=reopen_count,
                handoff_waiting_seconds=waiting_seconds,
                target_seconds=seconds,
                around_the_clock=bool(target and target.around_the_clock),
                status=status,
                started_at=created_at,
                segment_started_at=created_at if status == ClockStatus.RUNNING else None,
                consumed_seconds=consumed,
                paused_seconds=paused_seconds,
                stopped_at=stopped if status != ClockStatus.RUNNING else None,
                met_at=stopped if status == ClockStatus.MET else None,
                breached_at=created_at + timedelta(seconds=seconds)
                if status == ClockStatus.BREACHED and seconds
                else None,
            )
        )
    Clock.objects.bulk_create(clocks)
    rollups.refresh([handoff.pk])
    return handoff
