"""Handoffs: the unit of work in a queue, its timeline, and its SLA clocks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.agreements.models import Priority
from apps.core import urls
from apps.core.models import TimeStampedModel
from apps.teams.models import Membership


class Status(models.TextChoices):
    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting_on_requester", "Waiting on requester"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (
    Status.NEW,
    Status.ACKNOWLEDGED,
    Status.IN_PROGRESS,
    Status.WAITING,
)


class Segment(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    BUSINESS = "business", "Business"
    SELF_SERVE = "self_serve", "Self-serve"
    INTERNAL = "internal", "Internal"


class HandoffQuerySet(models.QuerySet):
    def visible_to(self, user) -> HandoffQuerySet:
        """Members of the requesting or providing team (and staff); nobody else."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        # The memberships alone (one table, no join to the teams): every list starts here.
        mine = Membership.objects.filter(user=user).values("team_id")
        return self.filter(Q(provider_team__in=mine) | Q(requesting_team__in=mine))

    def open(self) -> HandoffQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def for_queue(self) -> HandoffQuerySet:
        """What a queue row shows: teams, assignee, clocks and the calendar to read them."""
        return (
            self.select_related(
                "requesting_team",
                "provider_team",
                "assignee",
                "agreement__calendar",
            )
            .prefetch_related(
                "clocks",
                "agreement__targets",
                "agreement__calendar__intervals",
                "agreement__calendar__holidays",
            )
            .order_by(models.F("due_at").asc(nulls_last=True), "created_at")
        )

    def for_api(self) -> HandoffQuerySet:
        """What the API's JSON shows, in three queries a page: count, rows, clocks."""
        return self.select_related("provider_team", "requesting_team", "assignee").prefetch_related(
            "clocks"
        )

    def for_detail(self) -> HandoffQuerySet:
        return self.select_related(
            "requesting_team",
            "provider_team",
            "assignee",
            "created_by",
            "agreement__series",
            "agreement__calendar",
        ).prefetch_related(
            "clocks",
            # The reviews app's breach review of each clock, shown beside a breached one.
            "clocks__breach_review",
            "agreement__targets",
            "agreement__triage_fields",
            "agreement__calendar__intervals",
            "agreement__calendar__holidays",
        )


class Handoff(TimeStampedModel):
    agreement = models.ForeignKey(
        "agreements.Agreement",
        on_delete=models.PROTECT,
        related_name="handoffs",
        help_text="The agreement version in force when the handoff was created.",
    )
    # Copied from the agreement's series so that queue queries need no join.
    provider_team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, related_name="inbound_handoffs"
    )
    requesting_team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, related_name="outbound_handoffs"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.CharField(max_length=2, choices=Priority.choices)
    customer_segment = models.CharField(
        max_length=12, choices=Segment.choices, default=Segment.BUSINESS
    )
    impacted_customers = models.PositiveIntegerField(default=0)
    triage = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_handoffs",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_handoffs"
    )
    reopen_count = models.PositiveSmallIntegerField(default=0)
    # The soonest due moment among running clocks: the queue's sort key, kept by services.
    due_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    # Wall-clock seconds spent waiting on the requester, added up when each wait ends
    # (the time in the requester's court, for reviews and reports).
    waiting_seconds = models.PositiveIntegerField(default=0)

    objects = HandoffQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The queues: a team's open work, soonest due first. Partial, so the page reads
            # its 50 rows in order from the index however much closed work piles up; with
            # the other team's id, so the page's capped count (and `visible_to`'s test of
            # either team) reads the index alone: 0.57 → 0.2 ms at 10,000 open (PostgreSQL;
            # SQLite has no INCLUDE and ignores it).
            models.Index(
                fields=["provider_team", "due_at", "created_at"],
                name="handoff_open_queue_idx",
                condition=Q(status__in=OPEN_STATUSES),
                include=["requesting_team"],
            ),
            models.Index(
                fields=["requesting_team", "due_at", "created_at"],
                name="handoff_open_outgoing_idx",
                condition=Q(status__in=OPEN_STATUSES),
                include=["provider_team"],
            ),
            # "Everything" (every status, the queue's order): read 50 rows at a time from
            # the index instead of sorting the team's whole history (150 ms at 110,000).
            models.Index(
                fields=["provider_team", "due_at", "created_at", "id"], name="handoff_all_queue_idx"
            ),
            models.Index(
                fields=["requesting_team", "due_at", "created_at", "id"],
                name="handoff_all_outgoing_idx",
            ),
            models.Index(fields=["provider_team", "status", "due_at"], name="handoff_queue_idx"),
            models.Index(fields=["requesting_team", "status"], name="handoff_outgoing_idx"),
            models.Index(fields=["assignee", "status"], name="handoff_assignee_idx"),
            # The dashboard's "Assigned to me": the first 8 in due order and their count,
            # read from the person's open work alone.
            models.Index(
                fields=["assignee", "due_at", "created_at"],
                name="handoff_open_assignee_idx",
                condition=Q(status__in=OPEN_STATUSES),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(provider_team=models.F("requesting_team")),
                name="handoff_teams_differ",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return urls.reverse("handoffs:detail", pk=self.pk)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def clock(self, metric: str) -> Clock | None:
        return next((c for c in self.clocks.all() if c.metric == metric), None)


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    STARTED = "started", "Started"
    ACTION_PLAN = "action_plan", "Action plan posted"
    WAITING = "waiting", "Waiting on requester"
    REPLIED = "replied", "Requester replied"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"
    CANCELLED = "cancelled", "Cancelled"
    ASSIGNED = "assigned", "Assigned"
    COMMENTED = "commented", "Comment"
    PRIORITY = "priority", "Priority changed"
    CLOCK_MET = "clock_met", "Target met"
    CLOCK_BREACHED = "clock_breached", "Target breached"
    CLOCK_BREACH_WITHDRAWN = "breach_withdrawn", "Breach withdrawn"
    ESCALATED = "escalated", "Escalated"
    WARNED = "warned", "Warning"
    RESUMED = "resumed", "Resumed by the provider"


class HandoffEvent(models.Model):
    """One line of the timeline: who did what, when, with the values before and after."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for the system (sweeps, reminders).",
    )
    created_at = models.DateTimeField(db_index=True)
    comment = models.TextField(blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["handoff", "created_at", "id"]
        indexes = [models.Index(fields=["handoff", "created_at"], name="event_timeline_idx")]

    def __str__(self) -> str:
        return f"{self.handoff_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class Watcher(models.Model):
    """Someone who hears about every change to a handoff: the filer, the assignee and
    commenters by default; anyone who may see it can watch or stop watching."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="watchers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watching"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["handoff", "created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["handoff", "user"], name="watcher_unique")]

    def __str__(self) -> str:
        return f"{self.user} watches #{self.handoff_id}"


# The clocks, their sweeps and their rollups live in clocks.py; imported here so that Django
# registers them and `apps.handoffs.models` stays the one place to import any handoffs model from.
from .clocks import (  # noqa: E402
    ALL,
    Clock,
    ClockQuerySet,
    ClockRollup,
    ClockStatus,
    IntegerListField,
    RollupGrain,
    SweepRun,
)

__all__ = [
    "ALL",
    "OPEN_STATUSES",
    "Clock",
    "ClockQuerySet",
    "ClockRollup",
    "ClockStatus",
    "EventKind",
    "Handoff",
    "HandoffEvent",
    "HandoffQuerySet",
    "IntegerListField",
    "RollupGrain",
    "Segment",
    "Status",
    "SweepRun",
    "Watcher",
]
