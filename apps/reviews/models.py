"""Reviews: the quarterly review of an agreement series, breach reviews, action items.

A `QuarterlyReview` belongs to an agreement series and looks at one period
`[period_start, period_end)` (local dates of the agreement's calendar). When it starts,
its compliance pack is frozen (`pack`, this period and the previous one) together with
the recommended targets; both teams' leads then write findings and decisions, edit the
proposed targets (replayed against the period's real handoffs: the what-if) and sign
off. With both sides signed and targets changed, the next agreement version is created
and becomes active, the sign-offs being its approvals (`resulting_agreement`).

A `BreachReview` is written for one breached clock. A breached clock without one is "to
review" (no row is created in advance: handoffs do not depend on reviews).
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from apps.core.models import TimeStampedModel


class ReviewStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    AWAITING_SIGN_OFF = "awaiting_sign_off", "Awaiting sign-off"
    COMPLETED = "completed", "Completed"


class TeamVisibleQuerySet(models.QuerySet):
    """`visible_to(user)`: rows whose team at any of `team_paths` the user belongs to
    (staff see all)."""

    team_paths: tuple[str, ...] = ()

    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        teams = user.memberships.values("team_id")
        condition = Q()
        for path in self.team_paths:
            condition |= Q(**{f"{path}__in": teams})
        return self.filter(condition)


class QuarterlyReviewQuerySet(TeamVisibleQuerySet):
    """Members of either team of the series (and staff)."""

    team_paths = ("series__provider_team_id", "series__requesting_team_id")


class QuarterlyReview(TimeStampedModel):
    series = models.ForeignKey(
        "agreements.AgreementSeries", on_delete=models.PROTECT, related_name="reviews"
    )
    # The version in force when the review was scheduled / started (the one reviewed).
    agreement = models.ForeignKey(
        "agreements.Agreement", on_delete=models.PROTECT, related_name="reviews"
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="Exclusive.")
    due_date = models.DateField(db_index=True)
    status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.SCHEDULED
    )
    # Frozen when the review starts: {"period": {...}, "previous": {...}, "built_at": …}
    pack = models.JSONField(default=dict, blank=True)
    # [{"priority", "metric", "current_seconds", "recommended_seconds", "reason", …}]
    recommendations = models.JSONField(default=list, blank=True)
    # What the leads propose: {"P1": {"acknowledge": 1800, "action_plan": …}, …}
    proposed_targets = models.JSONField(default=dict, blank=True)
    findings = models.TextField(blank=True)
    decisions = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    resulting_agreement = models.ForeignKey(
        "agreements.Agreement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="from_reviews",
    )
    # Each reminder / flag happens once (claimed by conditional update).
    reminded_14_at = models.DateTimeField(null=True, blank=True)
    reminded_3_at = models.DateTimeField(null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)

    objects = QuarterlyReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-due_date", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "period_start"], name="review_one_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")),
                name="review_period_not_empty",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_date"],
                name="review_open_due_idx",
                condition=~Q(status="completed"),
            ),
        ]

    def __str__(self) -> str:
        return f"Review of {self.agreement} for {self.period_start:%Y-%m-%d}…{self.period_end:%Y-%m-%d}"  # noqa: E501

    def get_absolute_url(self) -> str:
        return reverse("reviews:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status != ReviewStatus.COMPLETED

    @property
    def period_last_day(self):
        """The period's last day (`period_end` is exclusive)."""
        return self.period_end - timedelta(days=1)


class ReviewSignOff(models.Model):
    """A lead's sign-off for one side (team) of the review. A person leading both teams
    signs both sides at once, as with agreement approvals."""

    review = models.ForeignKey(QuarterlyReview, on_delete=models.CASCADE, related_name="sign_offs")
    team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["review", "team"], name="review_sign_off_once_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} for {self.team} on {self.review_id}"


class RootCause(models.TextChoices):
    CAPACITY = "capacity", "Capacity"
    SKILLS = "skills", "Skills"
    PROCESS = "process", "Process"
    SYSTEMS = "systems", "Systems"
    CUSTOMER = "customer", "Customer"
    OTHER = "other", "Other"


class BreachReviewQuerySet(TeamVisibleQuerySet):
    """Members of the provider or requesting team of the handoff (and staff)."""

    team_paths = ("clock__handoff__provider_team_id", "clock__handoff__requesting_team_id")


class BreachReview(TimeStampedModel):
    clock = models.OneToOneField(
        "handoffs.Clock", on_delete=models.PROTECT, related_name="breach_review"
    )
    root_cause = models.CharField(max_length=10, choices=RootCause.choices)
    what_happened = models.TextField()
    prevention = models.TextField("what would have prevented it", blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = BreachReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Breach review of clock {self.clock_id} ({self.root_cause})"

    def get_absolute_url(self) -> str:
        return reverse("reviews:breach", args=[self.clock_id])


class ActionItemQuerySet(TeamVisibleQuerySet):
    team_paths = (
        "review__series__provider_team_id",
        "review__series__requesting_team_id",
        "breach_review__clock__handoff__provider_team_id",
        "breach_review__clock__handoff__requesting_team_id",
    )


class ActionItem(TimeStampedModel):
    """A follow-up owned by one person, from a quarterly review or a breach review."""

    review = models.ForeignKey(
        QuarterlyReview,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="action_items",
    )
    breach_review = models.ForeignKey(
        BreachReview,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="action_items",
    )
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items"
    )
    due_date = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Reminders to the owner, once each: on the due date, and once when overdue.
    reminded_due_at = models.DateTimeField(null=True, blank=True)
    reminded_overdue_at = models.DateTimeField(null=True, blank=True)

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["done_at", "due_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(review__isnull=False) & Q(breach_review__isnull=True))
                | (Q(review__isnull=True) & Q(breach_review__isnull=False)),
                name="action_item_one_parent",
            )
        ]
        indexes = [
            models.Index(
                fields=["due_date"], name="action_open_due_idx", condition=Q(done_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None
