"""Exception windows: approved relaxations of an agreement's clocks (requested by a
provider lead, approved by a second person, ended early or cancelled)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import TimeStampedModel


class ExceptionWindowQuerySet(models.QuerySet):
    def visible_to(self, user) -> ExceptionWindowQuerySet:
        # Windows say why clocks stopped; anyone who may see the agreement may see them.
        if not user.is_authenticated:
            return self.none()
        return self.all()

    def approved(self) -> ExceptionWindowQuerySet:
        return self.filter(status=ExceptionWindow.Status.APPROVED)

    def for_list(self) -> ExceptionWindowQuerySet:
        return self.select_related(
            "provider_team",
            "series__requesting_team",
            "series__provider_team",
            "requested_by",
            "decided_by",
            "ended_by",
        )

    def covering(self, agreement) -> ExceptionWindowQuerySet:
        """Windows that apply to a version: its own series' or all of its provider's."""
        return self.filter(provider_team_id=agreement.series.provider_team_id).filter(
            Q(series__isnull=True) | Q(series_id=agreement.series_id)
        )


class ExceptionWindow(TimeStampedModel):
    """An approved relaxation: business time inside it counts on no clock it covers.

    It documents what seed 003 asks of an exception: the reason, the expected duration
    (`start`–`end`; `planned_end` keeps the end that was approved when it is ended early),
    the affected customers and the communication plan. Requested by a provider-team member,
    approved by someone else (a provider lead or staff); ended early by `end = now`, or
    cancelled when it had not started yet."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        # Withdrawn before it took effect: a request withdrawn, or an approved window
        # ended before its start. It removes no time from any clock.
        CANCELLED = "cancelled", "Cancelled"

    provider_team = models.ForeignKey(
        "teams.Team", on_delete=models.PROTECT, related_name="exception_windows"
    )
    series = models.ForeignKey(
        "agreements.AgreementSeries",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exception_windows",
        help_text="Empty: every agreement the provider team keeps.",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.TextField()
    affected_customers = models.TextField(
        blank=True, help_text="Which customers or segments feel the delay, and how many."
    )
    communication_plan = models.TextField(
        blank=True, help_text="Who tells the requesting team and customers, how and when."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # Ending early: who, when, why, and the end that had been approved.
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_note = models.TextField(blank=True)
    planned_end = models.DateTimeField(
        null=True, blank=True, help_text="The approved end, when the window was ended early."
    )

    objects = ExceptionWindowQuerySet.as_manager()

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="window_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "approved", "rejected", "cancelled"]),
                name="window_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["provider_team", "status", "end"])]

    def __str__(self) -> str:
        return f"{self.provider_team}: {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M}"

    @property
    def expected_duration(self) -> timedelta:
        """The duration asked for and approved (seed 003's "expected duration")."""
        return (self.planned_end or self.end) - self.start

    @property
    def was_ended_early(self) -> bool:
        return self.ended_at is not None and self.status == self.Status.APPROVED
