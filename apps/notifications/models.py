"""Notifications: one row per recipient and channel, each at most once (unique dedup key).

The row is the record of a delivery: in-app rows are the inbox; email and webhook rows
carry their outcome (status, attempts, last error, sent at) so that nothing undeliverable
is lost silently. Notifications depend only on accounts and teams: the subject of a
notification is a (type, id) pair, never a foreign key into the calling app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    WARNING = "warning", "Warning"
    BREACH = "breach", "Breach"
    ESCALATION = "escalation", "Escalation"
    REMINDER = "reminder", "Reminder"
    REVIEW_DUE = "review_due", "Review due"
    DIGEST = "digest", "Digest"
    # Exception windows: requested (to the approvers), approved or refused (to the requester).
    WINDOW = "window", "Exception window"
    # Handoff events, each told by the service that made the change.
    FILED = "filed", "Handoff filed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ACTION_PLAN = "action_plan", "Action plan posted"
    QUESTION = "question", "Question to the requester"
    REPLIED = "replied", "Requester replied"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    CLOSED = "closed", "Closed"
    ASSIGNED = "assigned", "Assigned to you"
    PRIORITY = "priority", "Priority changed"
    MENTION = "mention", "Mentioned"
    COMMENT = "comment", "Comment on a handoff you watch"
    # Agreement versions: approval requested (to the leads who sign), approved or
    # activated (to both teams' leads), changes requested (to the author).
    APPROVAL = "approval", "Approval requested"
    AGREEMENT = "agreement", "Agreement decided"
    OTHER = "other", "Other"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Team webhook"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


# Which channels a person gets for each kind unless they chose otherwise. In-app is always
# on: the inbox is the one place where everything that concerned someone can be found.
# Email by default for what a person must act on or hears of once (a handoff filed to
# their team, a question, a reply, a resolution to confirm, work assigned, a mention, an
# approval, a breach); in-app only for the running commentary (acknowledged, plan posted,
# comments, priority changes, early warnings) that would otherwise flood a mailbox.
EMAIL_BY_DEFAULT = frozenset(
    {
        Kind.BREACH,
        Kind.ESCALATION,
        Kind.REVIEW_DUE,
        Kind.REMINDER,
        Kind.DIGEST,
        Kind.WINDOW,
        Kind.FILED,
        Kind.QUESTION,
        Kind.REPLIED,
        Kind.RESOLVED,
        Kind.REOPENED,
        Kind.CLOSED,
        Kind.ASSIGNED,
        Kind.MENTION,
        Kind.APPROVAL,
        Kind.AGREEMENT,
    }
)
# What a team's webhook (its channel) hears unless its leads chose otherwise: the work that
# arrives and the clocks that slip — what a team channel is watched for.
WEBHOOK_BY_DEFAULT = frozenset(
    {Kind.WARNING, Kind.BREACH, Kind.ESCALATION, Kind.FILED, Kind.DIGEST, Kind.REOPENED}
)
# Channels a person may switch on and off (the team webhook belongs to the team).
PERSONAL_CHANNELS = (Channel.EMAIL,)

# The preferences page and the API group the kinds the way people think of them.
KIND_GROUPS: tuple[tuple[str, tuple[Kind, ...]], ...] = (
    (
        "Handoff events",
        (
            Kind.FILED,
            Kind.ACKNOWLEDGED,
            Kind.ACTION_PLAN,
            Kind.QUESTION,
            Kind.REPLIED,
            Kind.RESOLVED,
            Kind.REOPENED,
            Kind.CLOSED,
            Kind.ASSIGNED,
            Kind.PRIORITY,
            Kind.MENTION,
            Kind.COMMENT,
        ),
    ),
    ("Clocks", (Kind.WARNING, Kind.BREACH, Kind.ESCALATION, Kind.REMINDER, Kind.DIGEST)),
    (
        "Agreements, windows and reviews",
        (Kind.APPROVAL, Kind.AGREEMENT, Kind.WINDOW, Kind.REVIEW_DUE, Kind.OTHER),
    ),
)


def default_enabled(kind: str, channel: str) -> bool:
    if channel == Channel.IN_APP:
        return True
    if channel == Channel.EMAIL:
        return kind in EMAIL_BY_DEFAULT
    if channel == Channel.WEBHOOK:
        return kind in WEBHOOK_BY_DEFAULT
    return False


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, user) -> NotificationQuerySet:
        """A person sees their own notifications only (staff use the admin)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(recipient=user)

    def inbox(self) -> NotificationQuerySet:
        return self.filter(channel=Channel.IN_APP).order_by("-created_at", "-id")

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at=None)

    def heads(self) -> NotificationQuerySet:
        """Entries of the inbox: rows not folded into an earlier one (coalescing)."""
        return self.filter(coalesced_into=None)


class Notification(models.Model):
    # CASCADE: notifications are derived from the history kept elsewhere (handoff events,
    # reviews); they must not stop a user or team from being removed.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
        help_text="Set for a team webhook notification (no single recipient).",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject_type = models.CharField(max_length=40, blank=True, help_text="e.g. handoff")
    subject_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="Absolute or site path.")
    dedup_key = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    deliver_after = models.DateTimeField(
        null=True, blank=True, help_text="Non-urgent: held until the team's open hours."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # The retry schedule lives here, not in the broker: the periodic sender takes every
    # row whose time has come, whatever became of its Celery message.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Coalescing: a row folded into an earlier one for the same person and subject is
    # delivered as part of that one (its line listed there), never on its own.
    coalesced_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="coalesced"
    )
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "channel", "read_at"], name="notif_inbox_idx"),
            models.Index(fields=["status", "claimed_at"], name="notif_claimed_idx"),
            models.Index(fields=["status", "deliver_after"], name="notif_scheduled_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="notif_next_attempt_idx"),
            models.Index(
                fields=["recipient", "subject_type", "subject_id", "created_at"],
                name="notif_subject_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=Kind.values), name="notification_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="notification_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="notification_status_valid"
            ),
            # A person's channels need the person; only a team webhook may go without one.
            models.CheckConstraint(
                condition=Q(recipient__isnull=False)
                | Q(channel=Channel.WEBHOOK, team__isnull=False),
                name="notification_has_a_recipient",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.SCHEDULED) | Q(deliver_after__isnull=False),
                name="notification_scheduled_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient or self.team} ({self.channel})"

    @property
    def absolute_url(self) -> str:
        if not self.url or self.url.startswith(("http://", "https://")):
            return self.url
        return f"{settings.SITE_URL}/{self.url.lstrip('/')}"


class NotificationPreference(models.Model):
    """A person's choice for one kind on one channel; no row means the default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    enabled = models.BooleanField()

    class Meta:
        ordering = ["user", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="notification_preference_unique"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in PERSONAL_CHANNELS]),
                name="notification_preference_personal_channel",
            ),
        ]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.user}: {self.kind} by {self.channel} {state}"


class TeamChannelPreference(models.Model):
    """A team's choice of which kinds go to its webhook (set by its leads); no row means
    the default."""

    team = models.ForeignKey(
        "teams.Team", on_delete=models.CASCADE, related_name="channel_preferences"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField()

    class Meta:
        ordering = ["team", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["team", "kind"], name="team_channel_preference_unique")
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.kind} to the webhook {'on' if self.enabled else 'off'}"
