"""Creating notifications (at most once per dedup key), reading them, and the channel
preferences of people and teams. Delivering them is delivery.py; the channels are mail.py
and webhooks.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q

from apps.accounts import services as account_services
from apps.teams.models import Role

from . import quiet_hours
from .models import (
    PERSONAL_CHANNELS,
    Channel,
    Kind,
    Notification,
    NotificationPreference,
    Status,
    TeamChannelPreference,
    default_enabled,
)
from .queue import enqueue_delivery

# --- creating -------------------------------------------------------------------------


def coalesce_seconds() -> int:
    """Notifications to one person about one subject this close together read as one."""
    return int(getattr(settings, "NOTIFICATION_COALESCE_SECONDS", 60))


def _email_wanted(users: list, kind: str) -> set[int]:
    """Ids of the users who get `kind` by email: their choice, else the default."""
    if not users:
        return set()
    chosen = dict(
        NotificationPreference.objects.filter(
            user__in=users, kind=kind, channel=Channel.EMAIL
        ).values_list("user_id", "enabled")
    )
    return {
        u.pk for u in users if u.email and chosen.get(u.pk, default_enabled(kind, Channel.EMAIL))
    }


def _webhook_wanted(team, kind: str) -> bool:
    """Whether the team's webhook hears of `kind`: its leads' choice, else the default."""
    chosen = (
        TeamChannelPreference.objects.filter(team=team, kind=kind)
        .values_list("enabled", flat=True)
        .first()
    )
    return default_enabled(kind, Channel.WEBHOOK) if chosen is None else chosen


def _held_for(user, start: datetime) -> datetime | None:
    """When a non-urgent email to `user` may go if it would go at `start`: None when
    `start` is inside their working hours (or they keep no quiet hours)."""
    if not getattr(user, "quiet_hours", False):
        return None
    return quiet_hours.next_working_start(
        start, zone=user.time_zone, starts=user.work_starts, ends=user.work_ends
    )


def _heads(users: list, subject_type: str, subject_id, now: datetime) -> dict[int, int]:
    """For each user, their earliest unread inbox entry about the subject still open for
    coalescing at `now` (created less than the coalescing window ago)."""
    window = coalesce_seconds()
    if not users or not subject_type or subject_id is None or window <= 0:
        return {}
    heads: dict[int, int] = {}
    rows = (
        Notification.objects.filter(
            recipient__in=users,
            channel=Channel.IN_APP,
            subject_type=subject_type,
            subject_id=subject_id,
            coalesced_into=None,
            read_at=None,
            created_at__gt=now - timedelta(seconds=window),
            created_at__lte=now,
        )
        .order_by("created_at", "pk")
        .values_list("recipient_id", "pk")
    )
    for recipient_id, pk in rows:
        heads.setdefault(recipient_id, pk)
    return heads


def notify(
    *,
    kind: str,
    title: str,
    body: str,
    url: str,
    dedup_base: str,
    recipients: Iterable = (),
    team=None,
    urgent: bool = False,
    deliver_after: datetime | None = None,
    subject_type: str = "",
    subject_id: int | None = None,
    now: datetime,
) -> list[Notification]:
    """One row per recipient × enabled channel (+ the team's webhook when its leads want
    this kind), each at most once per `dedup_base`; returns the rows created by this call.

    The in-app row shows at once, folded into the person's unread entry about the same
    subject from less than NOTIFICATION_COALESCE_SECONDS ago. Non-urgent email and webhook
    rows wait (`scheduled`) until `deliver_after` (the team's open hours), and a person's
    non-urgent email until their next working hour when they keep quiet hours. Every
    outbound row carries its `next_attempt_at` (email about a subject: after the
    coalescing window, so that the sender can fold what follows into one message) and is
    enqueued when the caller's transaction commits. Callers say `urgent=True` for what must
    not wait (P1/P2 work filed, breaches, escalations): it is never held; the default is
    not urgent.
    """
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    users = list({u.pk: u for u in recipients if u is not None}.values())
    team_held = deliver_after if not urgent and deliver_after and deliver_after > now else None
    about_subject = bool(subject_type) and subject_id is not None
    email_at = now + timedelta(seconds=coalesce_seconds()) if about_subject else now
    common = {
        "kind": kind,
        "title": title[:200],
        "body": body,
        "url": url[:500],
        "subject_type": subject_type,
        "subject_id": subject_id,
        "created_at": now,
    }

    def outbound(held: datetime | None, next_at: datetime, **fields) -> Notification:
        return Notification(
            **common,
            **fields,
            status=Status.SCHEDULED if held else Status.PENDING,
            deliver_after=held,
            next_attempt_at=held or next_at,
        )

    rows: list[Notification] = []
    by_email = _email_wanted(users, kind)
    heads = _heads(users, subject_type, subject_id, now)
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
                coalesced_into_id=heads.get(user.pk),
            )
        )
        if user.pk in by_email:
            held = team_held
            if not urgent:
                held = _held_for(user, team_held or now) or held
            rows.append(
                outbound(
                    held,
                    email_at,
                    recipient=user,
                    channel=Channel.EMAIL,
                    dedup_key=f"{dedup_base}:{Channel.EMAIL}:{user.pk}"[:255],
                )
            )
    if team is not None and team.webhook_url and _webhook_wanted(team, kind):
        rows.append(
            outbound(
                team_held,
                now,
                team=team,
                channel=Channel.WEBHOOK,
                dedup_key=f"{dedup_base}:{Channel.WEBHOOK}:team-{team.pk}"[:255],
            )
        )
    created = _insert_new(rows, now)
    for row in created:
        if row.channel != Channel.IN_APP:
            enqueue_delivery(row.pk, at=row.next_attempt_at, channel=row.channel)
    return created


@transaction.atomic
def _insert_new(rows: list[Notification], now: datetime) -> list[Notification]:
    """Insert the rows whose dedup key is new, in one statement; return them with their ids.

    The unique key decides: a row another caller inserted meanwhile is skipped by the
    database (ON CONFLICT DO NOTHING), and reading back only keys that were absent before
    and rows created at this call's `now` leaves that caller's row to that caller (one
    written at the very same instant is the same notice: a second enqueue of it is
    harmless, the delivery claim sends it once)."""
    if not rows:
        return []
    existing = set(
        Notification.objects.filter(dedup_key__in=[r.dedup_key for r in rows]).values_list(
            "dedup_key", flat=True
        )
    )
    fresh = {r.dedup_key: r for r in rows if r.dedup_key not in existing}
    if not fresh:
        return []
    Notification.objects.bulk_create(list(fresh.values()), ignore_conflicts=True)
    ids = Notification.objects.filter(dedup_key__in=list(fresh), created_at=now).values_list(
        "dedup_key", "pk"
    )
    created = []
    for key, pk in ids:
        row = fresh[key]
        row.pk = pk
        row._state.adding = False
        row._state.db = Notification.objects.db
        created.append(row)
    created.sort(key=lambda r: r.pk)
    return created


# --- reading ---------------------------------------------------------------------------


def notification_mark_read(*, notification: Notification, now: datetime) -> Notification:
    """Marks the inbox entry `notification` belongs to read (it, or the entry it was
    folded into), with every notification folded into it; the first reading time is
    kept."""
    head = notification.coalesced_into_id or notification.pk
    Notification.objects.filter(
        Q(pk=head) | Q(coalesced_into_id=head),
        recipient_id=notification.recipient_id,
        read_at=None,
    ).update(read_at=now)
    notification.read_at = notification.read_at or now
    return notification


def notification_mark_all_read(*, user, now: datetime) -> int:
    """Marks every unread in-app notification of `user` read; returns how many entries
    of the inbox that was (folded notifications go with their entry)."""
    unread = Notification.objects.visible_to(user).filter(channel=Channel.IN_APP, read_at=None)
    with transaction.atomic():
        entries = unread.filter(coalesced_into=None).count()
        unread.update(read_at=now)
    return entries


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


@transaction.atomic
def preferences_change(
    *, user, changes: dict[tuple[str, str], bool], quiet_hours: dict | None = None
) -> None:
    """Sets the given personal kind × channel choices, leaving the others as they are,
    and the person's quiet hours when given (`quiet_hours`, `work_starts`, `work_ends`)."""
    for (kind, channel), enabled in changes.items():
        preference_set(user=user, kind=kind, channel=channel, enabled=enabled)
    if quiet_hours is not None:
        account_services.user_set_quiet_hours(user=user, **quiet_hours)


def may_set_team_channel(user, team) -> bool:
    """The team's leads choose what its webhook hears; staff may too."""
    if not user.is_authenticated:
        return False
    return user.is_staff or team.memberships.filter(user=user, role=Role.LEAD).exists()


@transaction.atomic
def team_channel_preferences_change(
    *, team, actor, changes: dict[str, bool]
) -> list[TeamChannelPreference]:
    """Sets which kinds go to the team's webhook (others keep their setting); only the
    team's leads or staff may."""
    if not may_set_team_channel(actor, team):
        raise PermissionDenied("Only the team's leads choose what its channel hears.")
    unknown = sorted(k for k in changes if k not in Kind.values)
    if unknown:
        raise ValueError(f"Unknown notification kind {unknown[0]!r}")
    saved = []
    for kind, enabled in changes.items():
        preference, _ = TeamChannelPreference.objects.update_or_create(
            team=team, kind=kind, defaults={"enabled": bool(enabled)}
        )
        saved.append(preference)
    return saved


def team_channel_preferences_update(*, team, actor, enabled: set[str]) -> None:
    """Sets every kind for the team's webhook at once: on if in `enabled`, else off."""
    team_channel_preferences_change(
        team=team, actor=actor, changes={kind: kind in enabled for kind in Kind.values}
    )
