"""Creating notifications (at most once per dedup key), reading them, and a person's
channel preferences. Delivering them is delivery.py; the channels are mail.py and
webhooks.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction

from .models import (
    PERSONAL_CHANNELS,
    Channel,
    Kind,
    Notification,
    NotificationPreference,
    Status,
    default_enabled,
)
from .queue import enqueue_delivery

# --- creating -------------------------------------------------------------------------


def _email_wanted(users: list, kind: str) -> set[int]:
    """Ids of the users who get `kind` by email: their choice, else the default."""
    chosen = dict(
        NotificationPreference.objects.filter(
            user__in=users, kind=kind, channel=Channel.EMAIL
        ).values_list("user_id", "enabled")
    )
    return {
        u.pk for u in users if u.email and chosen.get(u.pk, default_enabled(kind, Channel.EMAIL))
    }


def notify(
    *,
    kind: str,
    title: str,
    body: str,
    url: str,
    dedup_base: str,
    recipients: Iterable = (),
    team=None,
    urgent: bool = True,
    deliver_after: datetime | None = None,
    subject_type: str = "",
    subject_id: int | None = None,
    now: datetime,
) -> list[Notification]:
    """One row per recipient × enabled channel (+ the team's webhook), each at most once
    per `dedup_base`; returns the rows created by this call only.

    Non-urgent email and webhook rows wait (`scheduled`) until `deliver_after`; the in-app
    row shows at once. Deliveries are enqueued when the caller's transaction commits.
    """
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    users = list({u.pk: u for u in recipients if u is not None}.values())
    waits = not urgent and deliver_after is not None and deliver_after > now
    common = {
        "kind": kind,
        "title": title[:200],
        "body": body,
        "url": url[:500],
        "subject_type": subject_type,
        "subject_id": subject_id,
        "created_at": now,
    }

    def outbound(**fields) -> Notification:
        return Notification(
            **common,
            **fields,
            status=Status.SCHEDULED if waits else Status.PENDING,
            deliver_after=deliver_after if waits else None,
        )

    rows: list[Notification] = []
    by_email = _email_wanted(users, kind)
    for user in users:
        # The inbox row is delivered by being written.
        rows.append(
            Notification(
                **common,
                recipient=user,
                channel=Channel.IN_APP,
                dedup_key=f"{dedup_base}:{Channel.IN_APP}:{user.pk}"[:255],
                status=Status.SENT,
                sent_at=now,
            )
        )
        if user.pk in by_email:
            rows.append(
                outbound(
                    recipient=user,
                    channel=Channel.EMAIL,
                    dedup_key=f"{dedup_base}:{Channel.EMAIL}:{user.pk}"[:255],
                )
            )
    if team is not None and team.webhook_url:
        rows.append(
            outbound(
                team=team,
                channel=Channel.WEBHOOK,
                dedup_key=f"{dedup_base}:{Channel.WEBHOOK}:team-{team.pk}"[:255],
            )
        )
    if not rows:
        return []

    created: list[Notification] = []
    with transaction.atomic():
        existing = set(
            Notification.objects.filter(dedup_key__in=[r.dedup_key for r in rows]).values_list(
                "dedup_key", flat=True
            )
        )
        for row in rows:
            if row.dedup_key in existing:
                continue
            # A concurrent caller may insert the same key between our read and our write:
            # the unique constraint decides, and the loser records nothing.
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                continue
            created.append(row)
            if row.status == Status.PENDING and row.channel != Channel.IN_APP:
                enqueue_delivery(row.pk)
    return created


# --- reading ---------------------------------------------------------------------------


def notification_mark_read(*, notification: Notification, now: datetime) -> Notification:
    """Marks one notification read; the first reading time is kept."""
    Notification.objects.filter(pk=notification.pk, read_at=None).update(read_at=now)
    notification.read_at = notification.read_at or now
    return notification


def notification_mark_all_read(*, user, now: datetime) -> int:
    """Marks every unread in-app notification of `user` read; returns how many."""
    return (
        Notification.objects.visible_to(user)
        .filter(channel=Channel.IN_APP, read_at=None)
        .update(read_at=now)
    )


# --- preferences -----------------------------------------------------------------------


def preference_set(*, user, kind: str, channel: str, enabled: bool) -> NotificationPreference:
    """Records a person's choice for one kind on one personal channel."""
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    if channel not in [c.value for c in PERSONAL_CHANNELS]:
        raise ValueError(f"{channel!r} is not a channel a person can switch")
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, kind=kind, channel=channel, defaults={"enabled": enabled}
    )
    return preference


@transaction.atomic
def preferences_update(*, user, enabled: set[tuple[str, str]]) -> None:
    """Sets every personal kind × channel choice at once: on if in `enabled`, else off."""
    for channel in PERSONAL_CHANNELS:
        for kind in Kind.values:
            preference_set(
                user=user, kind=kind, channel=channel, enabled=(kind, channel.value) in enabled
            )
