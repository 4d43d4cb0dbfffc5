"""Delivering email and webhook notifications: a row is claimed by one worker with one
conditional UPDATE, the message goes out outside any transaction, and the outcome is a
second UPDATE on the row; the reaper and the releaser put back what a dead worker or a
lost broker message left behind.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .destinations import RefusedDestination
from .mail import send_email
from .models import Channel, Notification, Status
from .queue import enqueue_delivery
from .webhooks import post_webhook

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
            send_email(notification)
        else:
            post_webhook(notification)
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
