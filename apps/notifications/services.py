"""Creating notifications (at most once per dedup key), reading them, and the channel
preferences of people and teams. Delivering them is delivery.py; the channels are mail.py
and webhooks.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q

from apps.accounts import services as account_services
from apps.core import sql
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


def _held_for(user, start: datetime) -> datetime | None:
    """When a non-urgent email to `user` may go if it would go at `start`: None when
    `start` is inside their working hours (or they keep no quiet hours)."""
    if not getattr(user, "quiet_hours", False):
        return None
    return quiet_hours.next_working_start(
        start, zone=user.time_zone, starts=user.work_starts, ends=user.work_ends
    )


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
    request = {
        "kind": kind,
        "title": title,
        "body": body,
        "url": url,
        "dedup_base": dedup_base,
        "recipients": list({u.pk: u for u in recipients if u is not None}.values()),
        "team": team,
        "urgent": urgent,
        "deliver_after": deliver_after,
        "subject_type": subject_type,
        "subject_id": subject_id,
    }
    users = request["recipients"]
    by_email = _emails_wanted(users, {kind})
    heads = _open_heads([request], now)
    webhooks = _webhooks_wanted([team] if team is not None and team.webhook_url else [], {kind})
    created = _insert_new(_rows(request, now, by_email, heads, webhooks), now)
    for row in created:
        if row.channel != Channel.IN_APP:
            enqueue_delivery(row.pk, at=row.next_attempt_at, channel=row.channel)
    return created


def _rows(request: dict, now: datetime, by_email, heads, webhooks) -> list[Notification]:
    """The rows of one notify() call, unsaved. `by_email`: (user id, kind) of who gets the
    kind by email; `heads`: (user id, subject type, subject id) → the open inbox entry;
    `webhooks`: (team id, kind) of the webhooks that hear of the kind."""
    kind, team, urgent = request["kind"], request.get("team"), request.get("urgent", False)
    deliver_after = request.get("deliver_after")
    subject_type, subject_id = request.get("subject_type", ""), request.get("subject_id")
    dedup_base = request["dedup_base"]
    team_held = deliver_after if not urgent and deliver_after and deliver_after > now else None
    about_subject = bool(subject_type) and subject_id is not None
    email_at = now + timedelta(seconds=coalesce_seconds()) if about_subject else now
    common = {
        "kind": kind,
        "title": request["title"][:200],
        "body": request["body"],
        "url": request["url"][:500],
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
    for user in request["recipients"]:
        # The inbox row is delivered by being written.
        rows.append(
            Notification(
                **common,
                recipient=user,
                channel=Channel.IN_APP,
                dedup_key=f"{dedup_base}:{Channel.IN_APP}:{user.pk}"[:255],
                status=Status.SENT,
                sent_at=now,
                coalesced_into_id=heads.get((user.pk, subject_type, subject_id)),
            )
        )
        if (user.pk, kind) in by_email:
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
    if team is not None and team.webhook_url and (team.pk, kind) in webhooks:
        rows.append(
            outbound(
                team_held,
                now,
                team=team,
                channel=Channel.WEBHOOK,
                dedup_key=f"{dedup_base}:{Channel.WEBHOOK}:team-{team.pk}"[:255],
            )
        )
    return rows


# --- many at once: prepared without locks, written in one statement ------------------------


def notifications_prepare(requests: Sequence[dict], *, now: datetime) -> list[list[Notification]]:
    """The rows each request would make — a request is notify()'s arguments but `now` —
    unsaved, read in at most four queries whatever their number (preferences, team
    preferences, open inbox entries). For a caller that prepares work without holding
    locks and writes it later in a short transaction (the clock sweep): write the rows
    with `notifications_write`, which makes them what notify() one call after another in
    the same order would have made."""
    requests = [dict(r) for r in requests]
    for request in requests:
        if request["kind"] not in Kind.values:
            raise ValueError(f"Unknown notification kind {request['kind']!r}")
        request["recipients"] = list(
            {u.pk: u for u in request.get("recipients", ()) if u is not None}.values()
        )
    users = list({u.pk: u for r in requests for u in r["recipients"]}.values())
    kinds = {r["kind"] for r in requests}
    teams = list(
        {r["team"].pk: r["team"] for r in requests if r.get("team") and r["team"].webhook_url}
        .values()
    )  # fmt: skip
    by_email = _emails_wanted(users, kinds)
    webhooks = _webhooks_wanted(teams, kinds)
    heads = _open_heads(requests, now)
    return [_rows(request, now, by_email, heads, webhooks) for request in requests]


def notifications_write(rows: Sequence[Notification], *, now: datetime) -> list[Notification]:
    """Write prepared rows (`notifications_prepare`) in one INSERT, skipping any whose
    dedup key exists (ON CONFLICT DO NOTHING: of any number of writers one makes each
    row); return the rows made, with their ids. An in-app row that found no open entry
    about its subject and follows one made here for the same person and subject folds
    into it, as it would one notify() after another (one UPDATE, only when there are
    such rows). Outbound rows are enqueued when the caller's transaction commits."""
    fresh: dict[str, Notification] = {}
    for row in rows:  # the first of one key wins, as it would one call after another
        fresh.setdefault(row.dedup_key, row)
    if not fresh:
        return []
    if connection.vendor != "postgresql":
        created = _insert_new(list(fresh.values()), now)
    else:
        created = _insert_returning(list(fresh.values()))
    _fold_together(created)
    for row in created:
        if row.channel != Channel.IN_APP:
            enqueue_delivery(row.pk, at=row.next_attempt_at, channel=row.channel)
    return created


def _insert_returning(rows: list[Notification]) -> list[Notification]:
    """INSERT … ON CONFLICT (dedup_key) DO NOTHING RETURNING: the rows this statement made.
    One array a column: the statement's text is the same whatever the number of rows."""
    returned = sql.insert_unnest(
        Notification, rows, then="ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key"
    )
    made = {key: pk for pk, key in returned}
    created = []
    for row in rows:
        if row.dedup_key in made:
            row.pk = made[row.dedup_key]
            row._state.adding = False
            row._state.db = connection.alias
            created.append(row)
    created.sort(key=lambda r: r.pk)
    return created


def _fold_together(created: list[Notification]) -> None:
    """In-app rows made together for one person about one subject that found no open
    entry: the first is the entry, the later ones fold into it."""
    if coalesce_seconds() <= 0:
        return
    first: dict[tuple, int] = {}
    folded = []
    for row in created:  # in id order
        if row.channel != Channel.IN_APP or not row.subject_type or row.subject_id is None:
            continue
        if row.coalesced_into_id is not None:
            continue
        key = (row.recipient_id, row.subject_type, row.subject_id)
        if key in first:
            row.coalesced_into_id = first[key]
            folded.append(row)
        else:
            first[key] = row.pk
    if folded:
        Notification.objects.bulk_update(folded, ["coalesced_into_id"])


def _emails_wanted(users: list, kinds: set[str]) -> set[tuple[int, str]]:
    """(user id, kind) for each user who gets that kind by email: their choice, else the
    default; one query for all."""
    if not users:
        return set()
    chosen = {
        (user_id, kind): enabled
        for user_id, kind, enabled in NotificationPreference.objects.filter(
            user__in=users, kind__in=kinds, channel=Channel.EMAIL
        ).values_list("user_id", "kind", "enabled")
    }
    return {
        (u.pk, kind)
        for u in users
        if u.email
        for kind in kinds
        if chosen.get((u.pk, kind), default_enabled(kind, Channel.EMAIL))
    }


def _webhooks_wanted(teams: list, kinds: set[str]) -> set[tuple[int, str]]:
    """(team id, kind) for each team whose webhook hears of that kind: its leads' choice,
    else the default; one query for all."""
    if not teams:
        return set()
    chosen = {
        (team_id, kind): enabled
        for team_id, kind, enabled in TeamChannelPreference.objects.filter(
            team__in=teams, kind__in=kinds
        ).values_list("team_id", "kind", "enabled")
    }
    return {
        (team.pk, kind)
        for team in teams
        for kind in kinds
        if chosen.get((team.pk, kind), default_enabled(kind, Channel.WEBHOOK))
    }


def _open_heads(requests: list[dict], now: datetime) -> dict[tuple, int]:
    """For each (user, subject type, subject id) the requests speak of, the user's earliest
    unread inbox entry about the subject still open for coalescing at `now`; one query."""
    window = coalesce_seconds()
    wanted = {
        (u.pk, r.get("subject_type", ""), r.get("subject_id"))
        for r in requests
        if r.get("subject_type") and r.get("subject_id") is not None
        for u in r["recipients"]
    }
    if not wanted or window <= 0:
        return {}
    rows = (
        Notification.objects.filter(
            recipient__in={pk for pk, _, _ in wanted},
            channel=Channel.IN_APP,
            subject_type__in={t for _, t, _ in wanted},
            subject_id__in={i for _, _, i in wanted},
            coalesced_into=None,
            read_at=None,
            created_at__gt=now - timedelta(seconds=window),
            created_at__lte=now,
        )
        .order_by("created_at", "pk")
        .values_list("recipient_id", "subject_type", "subject_id", "pk")
    )
    heads: dict[tuple, int] = {}
    for recipient_id, subject_type, subject_id, pk in rows:
        if (recipient_id, subject_type, subject_id) in wanted:
            heads.setdefault((recipient_id, subject_type, subject_id), pk)
    return heads


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
