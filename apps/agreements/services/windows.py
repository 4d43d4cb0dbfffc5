"""Exception windows: request, approve, reject, end (or cancel) a relaxation during which a
provider team's clocks do not count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.core import limits
from apps.core.exceptions import Conflict
from apps.notifications.models import Kind as NotificationKind
from apps.notifications.services import notify
from apps.teams.models import Role, Team

from ..models import AgreementSeries, ExceptionWindow
from ..signals import exception_windows_changed
from .permissions import can_approve_window, can_decide_window, can_end_window

# Seed 003: an exception is documented (reason, expected duration, affected customers,
# communication plan) and authorised by someone other than whoever asks for it. A window
# removes business time from clocks retroactively, so how far back it may reach and how
# long it may last are bounded by settings, checked against `now` both when it is asked
# for and when it is approved (a request left waiting must not reach further back).


def _window_limits(start: datetime, end: datetime, now: datetime, errors: dict) -> None:
    backdate = settings.EXCEPTION_WINDOW_MAX_BACKDATE
    length = settings.EXCEPTION_WINDOW_MAX_LENGTH
    if start < now - backdate:
        errors.setdefault("start", []).append(
            f"A window may start at most {_days(backdate)} before now "
            f"(not before {timezone.localtime(now - backdate):%Y-%m-%d %H:%M %Z})."
        )
    if end - start > length:
        errors.setdefault("end", []).append(
            f"A window may last at most {_days(length)}; ask for another one after it."
        )


def _days(delta: timedelta) -> str:
    if delta % timedelta(days=1):
        hours = delta / timedelta(hours=1)
        return f"{hours:g} hours"
    days = delta.days
    return "1 day" if days == 1 else f"{days} days"


def _window_url(window: ExceptionWindow) -> str:
    return f"{reverse('agreements:windows')}#window-{window.pk}"


def _window_scope(window: ExceptionWindow) -> str:
    if window.series_id is None:
        return f"all of {window.provider_team}’s agreements"
    return str(window.series)


def _period(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """A window's period as its reader reads it: in their zone, named."""
    return f"{start.astimezone(zone):%a %d %b %H:%M} – {end.astimezone(zone):%a %d %b %H:%M %Z}"


def _zone_of(user) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _approvers(window: ExceptionWindow) -> list:
    """Who is asked to decide: the provider team's leads other than the requester, or,
    when the requester is its only lead, staff (the other people who may approve)."""
    leads = [
        m.user
        for m in window.provider_team.memberships.filter(role=Role.LEAD, user__is_active=True)
        .exclude(user_id=window.requested_by_id)
        .select_related("user")
    ]
    if leads:
        return leads
    return list(
        User.objects.filter(is_staff=True, is_active=True).exclude(pk=window.requested_by_id)
    )


def _notify_window(
    window: ExceptionWindow,
    *,
    event: str,
    title: Callable[[ZoneInfo], str],
    body: Callable[[ZoneInfo], str],
    recipients,
    actor,
    now,
) -> None:
    """Tell `recipients` (never the actor); `title` and `body` are written for each
    reader's zone, since they name the window's times."""
    readers: dict[str, list] = {}
    for user in recipients:
        if user is not None and user.pk != actor.pk:
            readers.setdefault(user.time_zone, []).append(user)
    for people in readers.values():
        zone = _zone_of(people[0])
        notify(
            kind=NotificationKind.WINDOW,
            title=title(zone),
            body=body(zone),
            url=_window_url(window),
            # One key for the event: each reader's row is keyed by their id beneath it.
            dedup_base=f"window:{window.pk}:{event}",
            recipients=people,
            subject_type="exception_window",
            subject_id=window.pk,
            now=now,
        )


def _windows_changed(window: ExceptionWindow, now: datetime) -> None:
    # Inside the transaction, after the row is written: the handoffs app recomputes the
    # deadlines of the clocks the window covers before anything commits (signals.py).
    exception_windows_changed.send(sender=ExceptionWindow, window=window, now=now)


@transaction.atomic
def exception_window_request(
    *,
    actor,
    provider_team: Team,
    start: datetime,
    end: datetime,
    reason: str,
    affected_customers: str = "",
    communication_plan: str = "",
    series: AgreementSeries | None = None,
    now: datetime | None = None,
) -> ExceptionWindow:
    """A provider-team member asks for clocks to stop counting during [start, end), with
    the documentation an exception needs; the team's other leads are asked to decide."""
    now = now or timezone.now()
    if not (actor.is_staff or provider_team.memberships.filter(user=actor).exists()):
        raise PermissionDenied("Only a member of the provider team may request a window.")
    errors: dict[str, list[str]] = {}
    if start is None:
        errors["start"] = ["Give the start."]
    if end is None:
        errors["end"] = ["Give the end."]
    for key, moment in (("start", start), ("end", end)):
        if moment is not None and not limits.in_datetime_range(moment):
            errors[key] = [limits.datetime_range_message()]
    # A moment missing or out of range cannot be compared with the other or with now.
    if not errors and end <= start:
        errors["end"] = ["The window must end after it starts."]
    elif not errors:
        _window_limits(start, end, now, errors)
    if not (reason or "").strip():
        errors["reason"] = ["Say why (outage, launch, force majeure…)."]
    if not (affected_customers or "").strip():
        errors["affected_customers"] = [
            "Say which customers are affected (or “none”: internal work only)."
        ]
    if not (communication_plan or "").strip():
        errors["communication_plan"] = [
            "Say who tells the requesting teams and customers, how and when."
        ]
    if series is not None and series.provider_team_id != provider_team.pk:
        errors["series"] = ["That agreement is not one the team provides."]
    if errors:
        raise ValidationError(errors)
    window = ExceptionWindow.objects.create(
        provider_team=provider_team,
        series=series,
        start=start,
        end=end,
        reason=reason.strip(),
        affected_customers=affected_customers.strip(),
        communication_plan=communication_plan.strip(),
        requested_by=actor,
    )
    _notify_window(
        window,
        event="requested",
        title=lambda zone: (
            f"Exception window to decide: {provider_team}, "
            f"{_period(window.start, window.end, zone)}"
        ),
        body=lambda zone: (
            f"{actor.display_name} asks that clocks of {_window_scope(window)} "
            f"stop counting during {_period(window.start, window.end, zone)}.\n\n"
            f"Reason: {window.reason}\n"
            f"Affected customers: {window.affected_customers}\n"
            f"Communication plan: {window.communication_plan}"
        ),
        recipients=_approvers(window),
        actor=actor,
        now=now,
    )
    return window


def _lock_window(window: ExceptionWindow) -> ExceptionWindow:
    return (
        ExceptionWindow.objects.select_for_update(of=("self",))
        .select_related("provider_team", "series__provider_team", "series__requesting_team")
        .get(pk=window.pk)
    )


def _decide(window: ExceptionWindow, actor, status: str, note: str, now: datetime):
    window = _lock_window(window)
    if not can_decide_window(actor, window):
        raise PermissionDenied("Only a lead of the provider team or staff may decide.")
    if status == ExceptionWindow.Status.APPROVED and not can_approve_window(actor, window):
        raise PermissionDenied(
            "You asked for this window: another lead of the team (or staff) must approve it."
        )
    if window.status != ExceptionWindow.Status.REQUESTED:
        raise Conflict(f"This window was already {window.get_status_display().lower()}.")
    if status == ExceptionWindow.Status.APPROVED:
        errors: dict[str, list[str]] = {}
        _window_limits(window.start, window.end, now, errors)
        if errors:
            raise ValidationError(errors)
    window.status = status
    window.decided_by = actor
    window.decided_at = now
    window.decision_note = note
    window.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
    return window


def _tell_requester(window, actor, event: str, verb: str, note: str, now: datetime) -> None:
    """The requester hears how their window was decided."""
    _notify_window(
        window,
        event=event,
        title=lambda zone: (
            f"Exception window {verb}: {window.provider_team}, "
            f"{_period(window.start, window.end, zone)}"
        ),
        body=lambda zone: (
            f"{actor.display_name} {verb} the window you asked for."
            + (f"\n\n{note}" if note else "")
        ),
        recipients=[window.requested_by],
        actor=actor,
        now=now,
    )


@transaction.atomic
def exception_window_approve(
    *, window: ExceptionWindow, actor, note: str = "", now: datetime | None = None
) -> ExceptionWindow:
    """Approve a requested window (someone other than its requester, within the limits):
    from now on its time counts on no clock it covers."""
    now = now or timezone.now()
    window = _decide(window, actor, ExceptionWindow.Status.APPROVED, note, now)
    _windows_changed(window, now)
    _tell_requester(window, actor, "approved", "approved", note, now)
    return window


@transaction.atomic
def exception_window_reject(
    *, window: ExceptionWindow, actor, note: str = "", now: datetime | None = None
) -> ExceptionWindow:
    """Refuse a requested window; no clock changes."""
    now = now or timezone.now()
    window = _decide(window, actor, ExceptionWindow.Status.REJECTED, note, now)
    _tell_requester(window, actor, "rejected", "refused", note, now)
    return window


@transaction.atomic
def exception_window_end(
    *, window: ExceptionWindow, actor, now: datetime | None = None, note: str = ""
) -> ExceptionWindow:
    """Stop a window early: an approved window under way ends now (the time it already
    removed stays removed, the approved end is kept in `planned_end`); an approved window
    that has not started is cancelled, and so is a request not yet decided."""
    now = now or timezone.now()
    window = _lock_window(window)
    if not can_end_window(actor, window):
        raise PermissionDenied(
            "Only whoever asked for the window, a lead of the provider team or staff may end it."
        )
    status = ExceptionWindow.Status
    if window.status in (status.REJECTED, status.CANCELLED):
        raise Conflict(f"This window was {window.get_status_display().lower()}; nothing to end.")
    if window.end <= now:
        raise Conflict("This window has already ended.")
    approved = window.status == status.APPROVED
    # The period as it was approved (or asked for), before an early end changes it.
    start, end = window.start, window.end
    if approved and window.start < now:
        window.planned_end = window.end
        window.end = now
        verb = "ended early"
    else:
        window.status = status.CANCELLED
        verb = "cancelled"
    window.ended_by = actor
    window.ended_at = now
    window.end_note = note
    window.save(
        update_fields=[
            "status",
            "end",
            "planned_end",
            "ended_by",
            "ended_at",
            "end_note",
            "updated_at",
        ]
    )
    if approved:
        _windows_changed(window, now)
        _notify_window(
            window,
            event="ended",
            title=lambda zone: (
                f"Exception window {verb}: {window.provider_team}, {_period(start, end, zone)}"
            ),
            body=lambda zone: (
                f"{actor.display_name} {verb} the window approved for "
                f"{_period(start, end, zone)}." + (f"\n\n{note}" if note else "")
            ),
            recipients=[window.requested_by, window.decided_by],
            actor=actor,
            now=now,
        )
    else:
        # A request withdrawn before anyone decided: whoever was asked to decide need not
        # look for it any more (and the requester hears if someone else withdrew it).
        _notify_window(
            window,
            event="withdrawn",
            title=lambda zone: (
                "Exception window request withdrawn: "
                f"{window.provider_team}, {_period(start, end, zone)}"
            ),
            body=lambda zone: (
                f"{actor.display_name} withdrew the request for "
                f"{_period(start, end, zone)}; there is nothing to decide."
                + (f"\n\n{note}" if note else "")
            ),
            recipients=[*_approvers(window), window.requested_by],
            actor=actor,
            now=now,
        )
    return window
