"""Every state change of notifications: creating them (at most once per dedup key),
delivering them (claimed by one worker, outcome recorded on the row), reading them, and
a person's channel preferences.

Outbound I/O (mail, webhooks) never runs inside a database transaction: a row is claimed
with one conditional UPDATE, the message goes out, and the outcome is a second UPDATE.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .destinations import RefusedDestination, webhook_opener
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

MAX_ATTEMPTS = 5
REAP_BATCH = 500


class DeliveryFailed(Exception):
    """An email or webhook could not be delivered; the row says why."""

    def __init__(self, message: str, *, attempts: int, permanent: bool = False):
        super().__init__(message)
        self.attempts = attempts
        self.permanent = permanent

    @property
    def retryable(self) -> bool:
        # A destination refused by policy stays refused: no point in trying again.
        return not self.permanent and self.attempts < MAX_ATTEMPTS


def _setting(name: str, default):
    return getattr(settings, name, default)


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


# --- delivering ---------------------------------------------------------------------------


def notification_claim(*, notification_id: int, now: datetime) -> Notification | None:
    """Claim a row for delivery by exactly one worker: pending, or failed with attempts
    left, and never sent; None when someone else has it or there is nothing to do."""
    claimable = Q(status=Status.PENDING) | Q(status=Status.FAILED, attempts__lt=MAX_ATTEMPTS)
    claimed = (
        Notification.objects.filter(claimable, pk=notification_id, sent_at=None)
        .exclude(channel=Channel.IN_APP)
        .update(status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return None  # another worker got there first, or it is sent or out of attempts
    return Notification.objects.select_related("recipient", "team").get(pk=notification_id)


def notification_deliver(
    *, notification_id: int, now: datetime | None = None
) -> Notification | None:
    """Deliver one notification at most once per claim and record the outcome on its row;
    raises DeliveryFailed (after recording it) so that the caller may retry."""
    notification = notification_claim(notification_id=notification_id, now=now or timezone.now())
    if notification is None:
        return None
    try:
        if notification.channel == Channel.EMAIL:
            _send_email(notification)
        else:
            _post_webhook(notification)
    except Exception as exc:  # every failure is recorded on the row, never lost silently
        error = _describe(exc)
        Notification.objects.filter(pk=notification.pk, status=Status.SENDING).update(
            status=Status.FAILED, last_error=error[:2000], claimed_at=None
        )
        raise DeliveryFailed(
            error, attempts=notification.attempts, permanent=_refused(exc)
        ) from exc
    sent_at = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENT, sent_at=sent_at, last_error="", claimed_at=None
    )
    notification.status, notification.sent_at, notification.last_error = Status.SENT, sent_at, ""
    return notification


def _refused(exc: Exception) -> bool:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, RefusedDestination)


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        detail = exc.read(500).decode("utf-8", "replace").strip()
        return f"HTTP {exc.code} {exc.reason}: {detail}".strip(": ")
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, Exception) else exc
    if isinstance(exc, RefusedDestination):
        return f"Destination refused: {exc}"
    if isinstance(exc, TimeoutError):
        timeout = _setting("NOTIFICATION_WEBHOOK_TIMEOUT", 5)
        return f"Timed out after {timeout} s ({exc or 'no answer'})"
    return f"{type(exc).__name__}: {exc}"


def _send_email(notification: Notification) -> None:
    context = {"notification": notification, "link": notification.absolute_url}
    text = render_to_string("notifications/email/notification.txt", context)
    html = render_to_string("notifications/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=f"[OLA Portal] {notification.title}",
        body=text,
        to=[notification.recipient.email],
    )
    message.attach_alternative(html, "text/html")
    message.send()


def slack_escape(text: str) -> str:
    """Text as Slack shows it literally: `&`, `<` and `>` are its control characters
    (`<!channel>` pings everyone, `<url|text>` is a link), so they go as entities.
    https://api.slack.com/reference/surfaces/formatting#escaping"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link_target(url: str) -> str:
    # Inside `<…|…>` a `|` or `>` would end the URL early; percent-encoded they cannot.
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


def webhook_payload(notification: Notification) -> dict:
    """Slack-compatible JSON: `text` for clients that show only that, `blocks` for the rest.
    Every text people wrote (titles, comments) is escaped: it is shown, never obeyed."""
    link = _slack_link_target(notification.absolute_url)
    title = slack_escape(notification.title)
    body = slack_escape(notification.body)
    kind = slack_escape(notification.get_kind_display())
    headline = f"*<{link}|{title}>*" if link else f"*{title}*"
    return {
        "text": f"{kind}: {title} {link}".strip(),
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{headline}\n{body}".strip()},
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"{kind} · OLA Portal"}],
            },
        ],
    }


def _post_webhook(notification: Notification) -> None:
    url = notification.team.webhook_url
    if not url.lower().startswith(("http://", "https://")):
        raise RefusedDestination(f"Not an http(s) webhook URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(webhook_payload(notification)).encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": "OLA-Portal",
            # The same on every re-send of this notification: a receiver that saw it
            # already (our record of the send was lost) can drop the duplicate.
            "Idempotency-Key": f"ola-notification-{notification.pk}",
        },
        method="POST",
    )
    timeout = _setting("NOTIFICATION_WEBHOOK_TIMEOUT", 5)
    # The opener connects only to addresses webhooks may reach and follows no redirect.
    with webhook_opener().open(request, timeout=timeout) as response:
        response.read(1000)


def notifications_reap_stuck(*, now: datetime) -> list[int]:
    """Rows claimed by a worker that died (still `sending` long after the claim) go back
    to pending and are enqueued again — never one that was sent. Pending rows whose
    enqueue was lost (broker down at commit) are enqueued again too."""
    cutoff = now - timedelta(seconds=_setting("NOTIFICATION_CLAIM_TIMEOUT", 300))
    # A lost enqueue: never attempted and due for longer than any queue should take. A
    # duplicate message from a slow queue costs nothing (the claim decides), so this
    # errs on the side of enqueuing again.
    lost = Q(status=Status.PENDING, attempts=0, created_at__lt=cutoff) & (
        Q(deliver_after=None) | Q(deliver_after__lt=cutoff)
    )
    stuck = Q(status=Status.SENDING, claimed_at__lt=cutoff) | lost
    candidates = list(
        Notification.objects.filter(stuck, sent_at=None)
        .exclude(channel=Channel.IN_APP)
        .order_by("pk")
        .values_list("pk", "status")[:REAP_BATCH]
    )
    reaped = []
    for pk, status in candidates:
        if status == Status.SENDING:
            # Two reapers at once: only the one whose UPDATE changed the row enqueues it.
            changed = Notification.objects.filter(
                pk=pk, status=Status.SENDING, claimed_at__lt=cutoff, sent_at=None
            ).update(status=Status.PENDING, claimed_at=None)
            if not changed:
                continue
        reaped.append(pk)
        enqueue_delivery(pk)
    return reaped


def notifications_release_scheduled(*, now: datetime) -> list[int]:
    """Scheduled (non-urgent) rows whose time has come become pending and are enqueued,
    each by one releaser only."""
    due = list(
        Notification.objects.filter(status=Status.SCHEDULED, deliver_after__lte=now)
        .order_by("deliver_after", "pk")
        .values_list("pk", flat=True)[:REAP_BATCH]
    )
    released = []
    for pk in due:
        if Notification.objects.filter(pk=pk, status=Status.SCHEDULED).update(
            status=Status.PENDING
        ):
            released.append(pk)
            enqueue_delivery(pk)
    return released


@transaction.atomic
def notifications_retry(*, notification_ids: Iterable[int]) -> int:
    """Failed rows go back to pending and are enqueued once more (one attempt per request,
    whatever their attempt count); other rows are left alone."""
    ids = list(
        Notification.objects.filter(pk__in=list(notification_ids), status=Status.FAILED)
        .exclude(channel=Channel.IN_APP)
        .values_list("pk", flat=True)
    )
    retried = 0
    for pk in ids:
        if Notification.objects.filter(pk=pk, status=Status.FAILED).update(
            status=Status.PENDING, claimed_at=None
        ):
            retried += 1
            enqueue_delivery(pk)
    return retried


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
