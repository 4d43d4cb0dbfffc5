"""Agreements (OLAs): versioned promises one team makes another.

An `AgreementSeries` is the lasting promise between a provider and a requesting team; each
`Agreement` row is one version of it, `draft → in_review → active → superseded | retired`.
Targets, the triage template and the escalation ladder belong to a version, so a handoff
bound to a version keeps the terms it was created under.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from apps.core import urls
from apps.core.models import TimeStampedModel


class Kind(models.TextChoices):
    ESCALATION = "escalation", "Escalation"
    HANDOFF = "handoff", "Handoff"
    REQUEST = "request", "Request"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded"
    RETIRED = "retired", "Retired"


class Priority(models.TextChoices):
    P1 = "P1", "P1 critical"
    P2 = "P2", "P2 high"
    P3 = "P3", "P3 normal"
    P4 = "P4", "P4 low"


# The impact matrix of the domain reading (seed 002): priority follows customer impact,
# not job titles. Used as the default definitions of a new agreement's tiers.
DEFAULT_IMPACT = {
    Priority.P1: "Data loss, security breach or outage for many customers.",
    Priority.P2: "Core functionality broken for a subset of customers or a high-value account.",
    Priority.P3: "Partial impairment or reproducible bug with a workaround.",
    Priority.P4: "Questions, feature requests and non-urgent issues.",
}


class Metric(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    ACTION_PLAN = "action_plan", "Action plan"
    RESOLVE = "resolve", "Resolve"


class Party(models.TextChoices):
    """Who carries a responsibility: a side of the agreement and a role on it."""

    PROVIDER_TEAM = "provider_team", "Provider team"
    PROVIDER_LEAD = "provider_lead", "Provider lead"
    REQUESTING_TEAM = "requesting_team", "Requesting team"
    REQUESTING_LEAD = "requesting_lead", "Requesting lead"


class AgreementSeriesQuerySet(models.QuerySet):
    pass


class AgreementSeries(TimeStampedModel):
    """The lasting promise between two teams; its versions are `Agreement` rows."""

    provider_team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, related_name="provided_agreements"
    )
    requesting_team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, related_name="requested_agreements"
    )

    objects = AgreementSeriesQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "agreement series"
        constraints = [
            models.CheckConstraint(
                condition=~Q(provider_team=models.F("requesting_team")),
                name="series_teams_differ",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requesting_team} → {self.provider_team}"


class AgreementQuerySet(models.QuerySet):
    def visible_to(self, user) -> AgreementQuerySet:
        """Active, superseded and retired versions are public to anyone signed in; drafts
        and versions in review only to the two teams' members (and staff)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        mine = _team_ids(memberships__user=user)
        return self.filter(
            Q(status__in=[Status.ACTIVE, Status.SUPERSEDED, Status.RETIRED])
            | Q(series__provider_team__in=mine)
            | Q(series__requesting_team__in=mine)
        )

    def led_by(self, user) -> AgreementQuerySet:
        """Versions where the user leads either team."""
        if not user.is_authenticated:
            return self.none()
        led = _team_ids(memberships__user=user, memberships__role="lead")
        return self.filter(Q(series__provider_team__in=led) | Q(series__requesting_team__in=led))

    def active(self) -> AgreementQuerySet:
        return self.filter(status=Status.ACTIVE)

    def for_list(self) -> AgreementQuerySet:
        return self.select_related(
            "series__provider_team", "series__requesting_team", "calendar"
        ).prefetch_related("targets")

    def for_detail(self) -> AgreementQuerySet:
        return self.select_related(
            "series__provider_team__calendar",
            "series__requesting_team",
            "calendar",
            "created_by",
        ).prefetch_related(
            "targets",
            "triage_fields",
            "escalation_steps__user",
            "approvals__user",
            "approvals__team",
            "calendar__intervals",
            "calendar__holidays",
        )


def _team_ids(**filters):
    # A subquery (IN), not a join: no duplicate rows, no DISTINCT needed.
    from apps.teams.models import Team

    return Team.objects.filter(**filters).values("pk")


class Agreement(TimeStampedModel):
    """One version of an agreement."""

    series = models.ForeignKey(AgreementSeries, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ESCALATION)
    title = models.CharField(max_length=200)
    service_description = models.TextField(
        blank=True, help_text="What the provider team does for the requesting team."
    )
    scope_included = models.TextField("in scope", blank=True)
    scope_excluded = models.TextField("out of scope", blank=True)
    customer_sla = models.TextField(
        "customer-facing SLA supported",
        blank=True,
        help_text="The promise to customers that this internal agreement makes possible.",
    )
    calendar = models.ForeignKey(
        "calendars.BusinessCalendar",
        on_delete=models.PROTECT,
        related_name="agreements",
        help_text="Business hours the clocks run on (targets may opt out to 24×7).",
    )
    warning_threshold = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn when this percentage of a target has elapsed.",
    )
    initial_response_by = models.CharField(
        max_length=20, choices=Party.choices, default=Party.PROVIDER_TEAM
    )
    triage_by = models.CharField(max_length=20, choices=Party.choices, default=Party.PROVIDER_TEAM)
    updates_by = models.CharField(max_length=20, choices=Party.choices, default=Party.PROVIDER_TEAM)
    resolution_validated_by = models.CharField(
        max_length=20, choices=Party.choices, default=Party.REQUESTING_TEAM
    )
    review_cadence_months = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    next_review_date = models.DateField(null=True, blank=True)
    playbook = models.TextField(
        "escalation playbook",
        blank=True,
        help_text="Decision tree, contacts, communication cadence.",
    )
    waiting_auto_close_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Close a handoff waiting on the requester after this many days without reply.",
    )
    confirmation_days = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Close a resolved handoff the requester has not confirmed or reopened "
        "after this many business days.",
    )
    change_summary = models.TextField(
        blank=True, help_text="What this version changes (shown in the version history)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="agreements_created",
        null=True,
        blank=True,
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was superseded or retired."
    )

    objects = AgreementQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["series_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["series", "version"], name="agreement_unique_version"),
            # At most one version governs work, and at most one is being prepared.
            models.UniqueConstraint(
                fields=["series"],
                condition=Q(status="active"),
                name="agreement_one_active_per_series",
            ),
            models.UniqueConstraint(
                fields=["series"],
                condition=Q(status__in=["draft", "in_review"]),
                name="agreement_one_open_draft_per_series",
            ),
            models.CheckConstraint(
                condition=Q(warning_threshold__gte=1) & Q(warning_threshold__lte=99),
                name="agreement_warning_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"

    def get_absolute_url(self) -> str:
        return urls.reverse("agreements:detail", pk=self.pk)

    @property
    def provider_team(self):
        return self.series.provider_team

    @property
    def requesting_team(self):
        return self.series.requesting_team

    @property
    def is_editable(self) -> bool:
        return self.status == Status.DRAFT

    def target_for(self, priority: str) -> PriorityTarget | None:
        return next((t for t in self.targets.all() if t.priority == priority), None)


class PriorityTarget(models.Model):
    """Targets of one priority tier, in seconds of business time (None = best effort)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=2, choices=Priority.choices)
    impact = models.TextField("impact definition", blank=True)
    acknowledge_seconds = models.PositiveIntegerField(null=True, blank=True)
    action_plan_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolve_seconds = models.PositiveIntegerField(null=True, blank=True)
    # A P1 clock usually runs around the clock even when the team's calendar does not.
    around_the_clock = models.BooleanField(
        "24×7", default=False, help_text="Clocks ignore the calendar and run 24×7."
    )
    # Seed 003: pause while waiting on the requester. Acknowledge never pauses: a handoff
    # waits on its requester only once acknowledged, when that clock has already stopped.
    pause_action_plan = models.BooleanField(default=True)
    pause_resolve = models.BooleanField(default=True)

    class Meta:
        ordering = ["agreement", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "priority"], name="target_unique_priority"
            ),
            models.CheckConstraint(
                condition=Q(acknowledge_seconds__isnull=False)
                | Q(action_plan_seconds__isnull=False)
                | Q(resolve_seconds__isnull=False),
                name="target_has_a_metric",
            ),
            models.CheckConstraint(
                condition=(Q(acknowledge_seconds__isnull=True) | Q(acknowledge_seconds__gt=0))
                & (Q(action_plan_seconds__isnull=True) | Q(action_plan_seconds__gt=0))
                & (Q(resolve_seconds__isnull=True) | Q(resolve_seconds__gt=0)),
                name="target_seconds_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} {self.priority}"

    def seconds_for(self, metric: str) -> int | None:
        return getattr(self, f"{metric}_seconds")

    def pauses(self, metric: str) -> bool:
        if metric == Metric.ACKNOWLEDGE:
            return False
        return getattr(self, f"pause_{metric}")


class FieldKind(models.TextChoices):
    TEXT = "text", "Short text"
    LONG_TEXT = "long_text", "Long text"
    URL = "url", "URL"
    CHOICE = "choice", "Choice"
    NUMBER = "number", "Number"
    EMAIL = "email", "Email"


SLUG_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class TriageField(models.Model):
    """One field of the mandatory triage template a requester fills in."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="triage_fields")
    key = models.CharField(max_length=50, help_text="Lowercase letters, digits and _.")
    label = models.CharField(max_length=120)
    help_text = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=10, choices=FieldKind.choices, default=FieldKind.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text="Options of a choice field.")
    required = models.BooleanField(default=True)
    pattern = models.CharField(
        max_length=200, blank=True, help_text="Optional regular expression the answer must match."
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["agreement", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "key"], name="triage_field_unique_key"),
        ]

    def __str__(self) -> str:
        return self.label


class Notify(models.TextChoices):
    ASSIGNEE = "assignee", "Assignee"
    PROVIDER_TEAM = "provider_team", "Provider team"
    PROVIDER_LEAD = "provider_lead", "Provider lead"
    REQUESTING_LEAD = "requesting_lead", "Requesting lead"
    BOTH_LEADS = "both_leads", "Both leads"
    # Escalation roles set on the team (seed 003: lead, manager, director); an empty role
    # falls back to the next one down (`Team.escalation_contacts`).
    PROVIDER_MANAGER = "provider_manager", "Provider team's manager"
    PROVIDER_DIRECTOR = "provider_director", "Provider team's director"
    REQUESTING_MANAGER = "requesting_manager", "Requesting team's manager"
    REQUESTING_DIRECTOR = "requesting_director", "Requesting team's director"
    USER = "user", "A named person"


class EscalationStep(models.Model):
    """A rung of the escalation ladder: at `percent` of a metric's target, notify someone
    and perhaps raise the priority one level."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="escalation_steps"
    )
    metric = models.CharField(max_length=12, choices=Metric.choices)
    percent = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    notify = models.CharField(max_length=20, choices=Notify.choices, default=Notify.ASSIGNEE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Only when notifying a named person.",
    )
    raise_priority = models.BooleanField(default=False)

    class Meta:
        ordering = ["agreement", "metric", "percent"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "metric", "percent"], name="step_unique_percent_per_metric"
            ),
            models.CheckConstraint(condition=Q(percent__gt=0), name="step_percent_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.percent}% → {self.get_notify_display()}"


class AgreementApproval(models.Model):
    """A lead's approval of a version on behalf of one side."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="approvals")
    team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField()
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["agreement", "approved_at"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "team"], name="approval_unique_side"),
        ]

    def __str__(self) -> str:
        return f"{self.user} for {self.team}"


# Exception windows live in windows.py; imported here so that Django registers them and
# `apps.agreements.models` stays the one place to import any agreements model from.
from .windows import ExceptionWindow, ExceptionWindowQuerySet  # noqa: E402

__all__ = [
    "DEFAULT_IMPACT",
    "SLUG_RE",
    "Agreement",
    "AgreementApproval",
    "AgreementQuerySet",
    "AgreementSeries",
    "AgreementSeriesQuerySet",
    "EscalationStep",
    "ExceptionWindow",
    "ExceptionWindowQuerySet",
    "FieldKind",
    "Kind",
    "Metric",
    "Notify",
    "Party",
    "Priority",
    "PriorityTarget",
    "Status",
    "TriageField",
]
