"""SLA clocks: one per metric of a handoff, kept by apps.handoffs.clockwork; the sweeps
that ran over them; and the daily and monthly rollups reports read."""

from __future__ import annotations

import json

from django.db import models
from django.db.models import Q

from apps.agreements.models import Metric, Priority
from apps.teams.models import Team

# The package's __init__ defines the handoff's choices before it imports this module.
from . import Segment


class ClockStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    CANCELLED = "cancelled", "Cancelled"


class ClockQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClockQuerySet:
        """The clocks of the handoffs `Handoff.objects.visible_to(user)` shows, read from
        the clock's own copies of the handoff's teams (no join, no second pass over the
        handoffs: what compliance reports over millions of clocks need)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        mine = Team.objects.filter(memberships__user=user).values("pk")
        return self.filter(Q(provider_team__in=mine) | Q(requesting_team__in=mine))


class Clock(models.Model):
    """One metric's clock on one handoff.

    Consumed business time is kept as `consumed_seconds` up to `segment_started_at`, the
    start of the current running segment; while running, consumed-now is that plus the
    business time since. `due_at` and `next_step_at` are materialised on every transition
    so that sweeps select only what is due (partial index on running clocks).

    A clock also carries copies of the handoff fields compliance reports group, filter
    and count by (teams, agreement series, priority, segment, reopen count, time waiting
    on the requester), kept equal by the handoff services, so that a report over
    millions of clocks reads the clock table alone instead of joining every clock to its
    handoff (bench/reports.py). `started_at` is the handoff's creation: every clock starts
    with its handoff, and reports bucket by it.
    """

    handoff = models.ForeignKey("handoffs.Handoff", on_delete=models.CASCADE, related_name="clocks")
    metric = models.CharField(max_length=12, choices=Metric.choices)
    # --- copies of the handoff's fields, for reports (see the docstring) ---
    provider_team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    requesting_team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    series = models.ForeignKey(
        "agreements.AgreementSeries",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    # Database defaults (and nullable keys) so that rows written around the services
    # (bulk loads in benchmarks) still insert; the services always fill them.
    priority = models.CharField(
        max_length=2, choices=Priority.choices, blank=True, default="", db_default=""
    )
    customer_segment = models.CharField(
        max_length=12, choices=Segment.choices, blank=True, default="", db_default=""
    )
    handoff_reopen_count = models.PositiveSmallIntegerField(default=0, db_default=0)
    handoff_waiting_seconds = models.PositiveIntegerField(default=0, db_default=0)
    # --- the clock itself ---
    target_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: best effort (measured, never breached)."
    )
    around_the_clock = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ClockStatus.choices, default=ClockStatus.RUNNING
    )
    started_at = models.DateTimeField()
    segment_started_at = models.DateTimeField(null=True, blank=True)
    consumed_seconds = models.PositiveIntegerField(default=0)
    paused_seconds = models.PositiveIntegerField(
        default=0, help_text="Wall-clock seconds spent paused (time in the requester's court)."
    )
    pauses = models.JSONField(default=list, blank=True, help_text="[[start, end|null], …] UTC")
    # The clock's history: the intervals it ran, [[start, end|null], …] UTC. Consumed time
    # is always carried_seconds + the business time inside these intervals, under the
    # calendar and the exception windows as they are now, so any change that moves a
    # deadline (a window approved after the fact, a holiday added) recomputes it exactly.
    segments = models.JSONField(default=list, blank=True)
    # Consumed time from before segments were recorded (rows migrated from 0004).
    carried_seconds = models.PositiveIntegerField(default=0, db_default=0)
    # The real deadline: when the target runs out (in the past once overdue).
    due_at = models.DateTimeField(null=True, blank=True)
    # When the agreement's warning threshold is reached: "at risk" from then until breach.
    warning_at = models.DateTimeField(null=True, blank=True)
    # When the clock breaches if it keeps running: the first moment business time has
    # passed beyond the target (a target ending at 17:00 on Friday breaches on Monday at
    # opening, not at 17:00). The verdict's "breached" for a running clock.
    breach_at = models.DateTimeField(null=True, blank=True)
    next_step_at = models.DateTimeField(null=True, blank=True)
    # When the target last changed (a priority change): ladder steps already passed on the
    # new target fall due from then, not before (clockwork.arithmetic).
    rebased_at = models.DateTimeField(null=True, blank=True)
    # Sweeps that failed on this clock in a row; the sweep retries it with backoff.
    sweep_failures = models.PositiveSmallIntegerField(default=0, db_default=0)
    # The highest escalation percent already fired (warning, 100 % breach, later steps).
    fired_percent = models.PositiveSmallIntegerField(default=0)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # What this clock adds to the rollups (ClockRollup) as they stand, or empty while it
    # adds nothing (not finished): the services subtract it and add the new one when the
    # clock or its handoff's copies change (clockwork.rollups). Its "h" says whether this
    # clock counts its handoff (the first finished clock by metric), so that reports
    # count each handoff once without sorting clocks per handoff.
    rollup = models.JSONField(null=True, blank=True, default=None)

    objects = ClockQuerySet.as_manager()

    class Meta:
        ordering = ["handoff", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["handoff", "metric"], name="clock_unique_metric"),
        ]
        indexes = [
            models.Index(
                fields=["next_step_at"],
                name="clock_next_step_running_idx",
                condition=Q(status="running"),
            ),
            models.Index(
                fields=["due_at"], name="clock_due_running_idx", condition=Q(status="running")
            ),
            models.Index(
                fields=["breach_at"],
                name="clock_breach_running_idx",
                condition=Q(status="running"),
            ),
            # The "At risk" tab: running clocks past their warning and not yet breached
            # (`verdict.at_risk_q`), read from those whose warning has passed, not from every
            # running clock not yet breached: 19 → 12 ms at 10,000 open, 960 of them at risk.
            models.Index(
                fields=["warning_at"],
                include=["breach_at", "handoff"],
                name="clock_warning_running_idx",
                condition=Q(status="running", breached_at__isnull=True),
            ),
            # Reports read the partial days at a period's ends from the clocks, the rest
            # from the rollups: finished clocks by their handoff's creation.
            models.Index(
                fields=["started_at"],
                name="clock_finished_started_idx",
                condition=Q(status__in=["met", "breached"]),
            ),
            # A report's breach causes: the breached clocks of a period, read from the index
            # alone (their root cause is joined from their breach review by id).
            models.Index(
                fields=["started_at"],
                include=[
                    "id",
                    "provider_team",
                    "requesting_team",
                    "series",
                    "priority",
                    "customer_segment",
                ],
                name="clock_breached_started_idx",
                condition=Q(status="breached"),
            ),
            # The clocks the verdict can flag (running, paused, breached) with what it
            # reads: the dashboard's at-risk and breached handoffs and its breaches to
            # review are read from here (index only), never from every met clock in
            # history. Queries name the condition (`~Q(status__in=[met, cancelled])`):
            # PostgreSQL cannot prove it from the verdict's ORs alone.
            models.Index(
                fields=["handoff", "status", "breached_at", "breach_at", "warning_at"],
                name="clock_verdict_idx",
                condition=~Q(status__in=["met", "cancelled"]),
            ),
            # Breaches on record (`verdict.recorded_breach_q`) by the provider team's copy:
            # the dashboard's "breaches to review" badge.
            models.Index(
                fields=["provider_team", "id"],
                name="clock_breach_recorded_idx",
                condition=Q(status="breached")
                | Q(status__in=["running", "paused"], breached_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.handoff_id} {self.metric} {self.status}"

    @property
    def is_running(self) -> bool:
        return self.status == ClockStatus.RUNNING


class SweepRun(models.Model):
    """One clock sweep: when, how long, what it did. A stalled beat shows as a stale row."""

    started_at = models.DateTimeField(db_index=True)
    duration_ms = models.PositiveIntegerField()
    clocks = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    breaches = models.PositiveIntegerField(default=0)
    escalations = models.PositiveIntegerField(default=0)
    raised = models.PositiveIntegerField(default=0)
    # Clocks the sweep could not process: skipped, retried with backoff, listed here.
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"sweep {self.started_at:%Y-%m-%d %H:%M:%S} ({self.clocks} clocks)"


class IntegerListField(models.Field):
    """A list of integers: `integer[]` on PostgreSQL (reports unnest it in SQL), JSON
    text elsewhere (SQLite development databases)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", list)
        super().__init__(*args, **kwargs)

    def db_type(self, connection) -> str:
        return "integer[]" if connection.vendor == "postgresql" else "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        value = [int(v) for v in (value or [])]
        return value if connection.vendor == "postgresql" else json.dumps(value)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return []
        return list(value) if isinstance(value, list) else json.loads(value)

    def to_python(self, value):
        if isinstance(value, str):
            return json.loads(value)
        return list(value or [])


class RollupGrain(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"


# A rollup row of the month grain adds up every priority (or every segment) under this.
ALL = "*"
# What makes a rollup row one row (clockwork.rollups writes and merges by it).
ROLLUP_KEY = (
    "grain",
    "day",
    "provider_team_id",
    "requesting_team_id",
    "series_id",
    "priority",
    "customer_segment",
    "metric",
)


class ClockRollup(models.Model):
    """Finished clocks added up, so that reports over millions of clocks read thousands
    of rows (apps.reports.rollups; bench/reports.py).

    One row per day in UTC (the day the handoff was created) and provider team,
    requesting team, agreement series, priority, customer segment and metric; and per
    UTC month the same without the segment (`customer_segment` = "*") and without the
    priority (`priority` = "*"), which a year's report reads instead of 365 days of
    rows. Counts and sums of what compliance figures need, and a histogram of consumed
    business seconds (`buckets` → `counts`, sparse, ascending): one-minute buckets below
    8 h, five-minute buckets from there, unbounded — percentiles exact to the minute
    below 8 h and to five minutes above — and the same in bins of 30 buckets
    (`bins` → `bin_counts`), which a report merges first to know which bucket to read.

    The clock services keep it: the contribution a clock adds is recorded on it
    (`Clock.rollup`), and every change subtracts the old and adds the new one in the
    same transaction with one INSERT … ON CONFLICT DO UPDATE (clockwork.rollups), so it
    is never stale and concurrent finishes never lose a count. `manage.py
    rebuild_clock_rollups` builds it again from the clocks. Team and series ids are
    plain integers (0: none) so that the key is never NULL.
    """

    grain = models.CharField(max_length=5, choices=RollupGrain.choices)
    day = models.DateField(help_text="The UTC day, or the first day of the UTC month.")
    provider_team_id = models.IntegerField()
    requesting_team_id = models.IntegerField()
    series_id = models.IntegerField()
    priority = models.CharField(max_length=2)
    customer_segment = models.CharField(max_length=12)
    metric = models.CharField(max_length=12, choices=Metric.choices)
    # Finished clocks; of them with a target, met (with a target), breached, 24×7.
    volume = models.IntegerField(default=0)
    with_target = models.IntegerField(default=0)
    met = models.IntegerField(default=0)
    breached = models.IntegerField(default=0)
    around_the_clock = models.IntegerField(default=0)
    paused_seconds = models.BigIntegerField(default=0)
    # Over the clocks: whose handoff was reopened, and its time waiting on the requester.
    reopened = models.IntegerField(default=0)
    waiting_seconds = models.BigIntegerField(default=0)
    # The same over the clocks that count their handoff (one per handoff).
    handoffs = models.IntegerField(default=0)
    handoffs_reopened = models.IntegerField(default=0)
    handoffs_waiting_seconds = models.BigIntegerField(default=0)
    buckets = IntegerListField()
    counts = IntegerListField()
    # The same histogram in bins of clockwork.rollups.BIN buckets: where a percentile
    # falls is found from these, then only that bin's buckets are read.
    bins = IntegerListField()
    bin_counts = IntegerListField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=list(ROLLUP_KEY),
                name="clockrollup_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grain} {self.day} {self.series_id} {self.priority} {self.metric}"
