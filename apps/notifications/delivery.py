"""Delivering email and webhook notifications.

The schedule lives on the row: `next_attempt_at` (when it is due), `attempts`, `last_error`.
A row is claimed by exactly one worker with one conditional UPDATE, the message goes out
outside any transaction, and the outcome is a second UPDATE on the row; a failure sets the
next attempt (backoff) on the row. Two ways lead to the same claim: the Celery message
enqueued for the row (a shortcut that may be lost with a dead worker or a flushed broker),
and the periodic sender (`notifications_send_due`, every minute), which takes whatever is
due and still unsent — pending, scheduled whose time has come, failed with attempts left,
or claimed by a worker that died — so nothing is lost while the database is.

Emails to one person about one subject coalesce: the row being sent takes along every
other unsent email to that person about that subject (`coalesced_into`), and one message
lists them all, oldest first.
"""

from __future__ import annotations

import dataclasses
import time
import urllib.error
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .destinations import RefusedDestination
from .mail import send_email
from .models import Channel, Notification, Status
from .queue import enqueue_delivery
from .webhooks import post_webhook

MAX_ATTEMPTS = 5
SEND_BATCH = 100
# Where a row waits to be sent (or sent again); SENDING rows are someone's claim.
WAITING = (Status.PENDING, Status.SCHEDULED)


class DeliveryFailed(Exception):
    """An email or webhook could not be delivered; the row says why and when it is tried
    again (`next_attempt_at`, None when it is not)."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        channel: str = Channel.WEBHOOK,
        next_attempt_at: datetime | None = None,
        permanent: bool = False,
    ):
        super().__init__(message)
        self.attempts = attempts
        self.channel = channel
        self.next_attempt_at = next_attempt_at
        self.permanent = permanent

    @property
    def retryable(self) -> bool:
        # A destination refused by policy stays refused: no point in trying again.
        return not self.permanent and self.attempts < MAX_ATTEMPTS


@dataclasses.dataclass(frozen=True)
class SendResult:
    """One batch of the periodic sender: rows it claimed, sent, saw fail, and whether
    more may be due (the batch was full or time ran out)."""

    taken: int = 0
    sent: int = 0
    failed: int = 0
    more: bool = False


def _setting(name: str, default):
    return getattr(settings, name, default)


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: the first delay, doubling, at most five minutes."""
    base = _setting("NOTIFICATION_RETRY_BACKOFF", 10)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 300))


def _claim_timeout() -> timedelta:
    # Longer than a delivery task may run (its hard time limit): a claim older than this
    # belongs to a worker that is gone.
    return timedelta(seconds=_setting("NOTIFICATION_CLAIM_TIMEOUT", 300))


def _outbound():
    """Email and webhook rows not sent yet and not folded into another row (a folded row
    goes out with the row it was folded into, never on its own)."""
    return Notification.objects.filter(sent_at=None, coalesced_into=None).exclude(
        channel=Channel.IN_APP
    )


def _waiting_due(moment: datetime) -> Q:
    """Waiting rows whose time has come by `moment`: pending or scheduled (their time, or
    their creation when they have none), failed with an attempt left at its time; a hold
    (quiet hours, open hours) comes first."""
    waiting = Q(status__in=WAITING) & (
        Q(next_attempt_at__lte=moment) | Q(next_attempt_at=None, created_at__lte=moment)
    )
    retry = Q(status=Status.FAILED, attempts__lt=MAX_ATTEMPTS, next_attempt_at__lte=moment)
    return (waiting | retry) & (Q(deliver_after=None) | Q(deliver_after__lte=moment))


def _abandoned(now: datetime) -> Q:
    """Claimed by a worker that died before recording the outcome."""
    return Q(status=Status.SENDING, claimed_at__lt=now - _claim_timeout())


def notification_claim(*, notification_id: int, now: datetime) -> Notification | None:
    """Claim a due row for delivery by exactly one worker (one conditional UPDATE); None
    when someone else has it, it is sent, not due yet or out of attempts."""
    claimable = _waiting_due(now) | (_abandoned(now) & Q(attempts__lt=MAX_ATTEMPTS))
    claimed = (
        _outbound()
        .filter(claimable, pk=notification_id)
        .update(status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return None  # another worker got there first, or it is sent, early or exhausted
    return Notification.objects.select_related("recipient", "team").get(pk=notification_id)


def notification_deliver(
    *, notification_id: int, now: datetime | None = None
) -> Notification | None:
    """Deliver one notification at most once per claim and record the outcome on its row;
    raises DeliveryFailed (after recording it and the next attempt's time)."""
    now = now or timezone.now()
    notification = notification_claim(notification_id=notification_id, now=now)
    if notification is None:
        return None
    return _send_claimed(notification, now=now)


def _fold(notification: Notification, *, now: datetime) -> list[Notification]:
    """The email and every other unsent email to the same person about the same subject
    that exists by now (each taken with one conditional UPDATE, so no other worker sends
    it too), oldest first. Rows held for later (quiet hours) stay held."""
    if not (notification.subject_type and notification.subject_id is not None):
        return [notification]
    (
        _outbound()
        .filter(
            Q(status__in=WAITING)
            | Q(status=Status.FAILED, attempts__lt=MAX_ATTEMPTS, next_attempt_at__isnull=False),
            Q(deliver_after=None) | Q(deliver_after__lte=now),
            channel=Channel.EMAIL,
            recipient_id=notification.recipient_id,
            subject_type=notification.subject_type,
            subject_id=notification.subject_id,
            created_at__lte=now,
        )
        .exclude(pk=notification.pk)
        .update(coalesced_into=notification, status=Status.SENDING, claimed_at=now)
    )
    folded = Notification.objects.filter(coalesced_into=notification, sent_at=None)
    return sorted([notification, *folded], key=lambda n: (n.created_at, n.pk))


def _send_claimed(notification: Notification, *, now: datetime, mailer=None) -> Notification:
    """Send a claimed row and record the outcome. `mailer`: a mail connection kept open
    across a batch (opened here when it is not; closed after a failure, so that the next
    row starts a clean session)."""
    try:
        if notification.channel == Channel.EMAIL:
            if mailer is not None:
                mailer.open()
            send_email(notification, items=_fold(notification, now=now), connection=mailer)
        else:
            post_webhook(notification)
    except Exception as exc:  # every failure is recorded on the row, never lost silently
        if mailer is not None:
            mailer.close()
        raise _record_failure(notification, exc, now=now) from exc
    sent_at = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENT, sent_at=sent_at, last_error="", claimed_at=None, next_attempt_at=None
    )
    Notification.objects.filter(coalesced_into=notification, sent_at=None).update(
        status=Status.SENT, sent_at=sent_at, last_error="", claimed_at=None, next_attempt_at=None
    )
    notification.status, notification.sent_at, notification.last_error = Status.SENT, sent_at, ""
    return notification


def _record_failure(notification: Notification, exc: Exception, *, now: datetime) -> DeliveryFailed:
    error = _describe(exc)[:2000]
    permanent = _refused(exc)
    attempts = notification.attempts
    retry_at = None if permanent or attempts >= MAX_ATTEMPTS else now + backoff(attempts)
    # Only while the claim is still ours: a claim taken over meanwhile records its own.
    Notification.objects.filter(
        pk=notification.pk, status=Status.SENDING, claimed_at=notification.claimed_at
    ).update(status=Status.FAILED, last_error=error, claimed_at=None, next_attempt_at=retry_at)
    # Rows folded into this one follow it: failed now, sent with it on its next attempt.
    Notification.objects.filter(coalesced_into=notification, sent_at=None).update(
        status=Status.FAILED,
        last_error=f"Part of notification {notification.pk}: {error}"[:2000],
        claimed_at=None,
    )
    return DeliveryFailed(
        error,
        attempts=attempts,
        channel=notification.channel,
        next_attempt_at=retry_at,
        permanent=permanent,
    )


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


# --- the periodic sender ------------------------------------------------------------------


def notifications_due(*, now: datetime, channel: str | None = None):
    """Rows the periodic sender takes: waiting and due for longer than the grace left to
    their Celery message (NOTIFICATION_QUEUE_GRACE), or abandoned by a dead worker."""
    grace = timedelta(seconds=_setting("NOTIFICATION_QUEUE_GRACE", 30))
    rows = _outbound().filter(_waiting_due(now - grace) | _abandoned(now))
    return rows.filter(channel=channel) if channel else rows


def notifications_send_due(
    *,
    now: datetime,
    channel: str | None = None,
    limit: int = SEND_BATCH,
    until: float | None = None,
) -> SendResult:
    """Send one batch of due rows, oldest first, each claimed by one conditional UPDATE
    (safe to run beside the delivery tasks and beside itself). `until` (a monotonic time)
    stops taking rows once passed: what is left stays due for the next run."""
    candidates = list(
        notifications_due(now=now, channel=channel)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    taken = sent = failed = 0
    more = len(candidates) == limit
    mailer = get_connection()  # one SMTP session for the batch's emails
    try:
        for pk in candidates:
            if until is not None and time.monotonic() > until:
                more = True
                break
            notification = notification_claim(notification_id=pk, now=now)
            if notification is None:
                _give_up_if_exhausted(pk, now=now)
                continue
            taken += 1
            try:
                _send_claimed(notification, now=now, mailer=mailer)
                sent += 1
            except DeliveryFailed as exc:
                failed += 1
                if exc.next_attempt_at is not None:  # the shortcut; this sender is the net
                    enqueue_delivery(pk, at=exc.next_attempt_at, channel=exc.channel)
    finally:
        mailer.close()
    return SendResult(taken, sent, failed, more=more)


def _give_up_if_exhausted(pk: int, *, now: datetime) -> None:
    """A row whose last allowed attempt died with its worker is failed for staff to see
    (and retry), never left `sending` for ever."""
    Notification.objects.filter(
        _abandoned(now), pk=pk, sent_at=None, attempts__gte=MAX_ATTEMPTS
    ).update(
        status=Status.FAILED,
        claimed_at=None,
        next_attempt_at=None,
        last_error=(
            f"The worker stopped while sending attempt {MAX_ATTEMPTS} of {MAX_ATTEMPTS}; "
            "not tried again (use the retry action)."
        ),
    )


@transaction.atomic
def notifications_retry(*, notification_ids: Iterable[int], now: datetime) -> int:
    """Failed rows are due again at once and enqueued (one more attempt per request,
    whatever their attempt count); a row folded into another is retried through that
    one; other rows are left alone."""
    rows = (
        Notification.objects.filter(pk__in=list(notification_ids), status=Status.FAILED)
        .exclude(channel=Channel.IN_APP)
        .values_list("pk", "coalesced_into_id")
    )
    heads = sorted({head or pk for pk, head in rows})
    retried = 0
    for pk, channel in (
        Notification.objects.filter(pk__in=heads).order_by("pk").values_list("pk", "channel")
    ):
        # Status PENDING is claimable whatever the attempt count: exactly one more try.
        if Notification.objects.filter(pk=pk, status=Status.FAILED).update(
            status=Status.PENDING, claimed_at=None, next_attempt_at=now
        ):
            retried += 1
            enqueue_delivery(pk, channel=channel)
    return retried
