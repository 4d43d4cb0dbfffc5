"""The transition machinery of a handoff: which action may start from which status and
where it leads, how a transition is claimed (one conditional UPDATE, the handoff then
locked: handoff first, then its clocks), how a refusal explains who got there first, and
how each change is written to the timeline. The services (services.py) are built on it."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.utils import timezone

from apps.agreements.models import Priority
from apps.core import limits
from apps.core.exceptions import Conflict

from . import permissions
from .clockwork import services as clockwork
from .models import OPEN_STATUSES, Clock, EventKind, Handoff, HandoffEvent, Status

# action → (statuses it may start from, status it leads to; None = unchanged)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "acknowledge": (frozenset({Status.NEW}), Status.ACKNOWLEDGED),
    "start": (frozenset({Status.NEW, Status.ACKNOWLEDGED}), Status.IN_PROGRESS),
    "action_plan": (
        frozenset({Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING}),
        None,
    ),
    "wait": (frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS}), Status.WAITING),
    "resume": (frozenset({Status.WAITING}), Status.IN_PROGRESS),
    "resolve": (
        frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING}),
        Status.RESOLVED,
    ),
    "close": (frozenset({Status.RESOLVED}), Status.CLOSED),
    "reopen": (frozenset({Status.RESOLVED}), Status.IN_PROGRESS),
    "cancel": (frozenset(OPEN_STATUSES), Status.CANCELLED),
    "auto_close": (frozenset({Status.WAITING}), Status.CLOSED),
    # A resolution the requester neither confirmed nor reopened in time.
    "close_unconfirmed": (frozenset({Status.RESOLVED}), Status.CLOSED),
}

# The event that records each transition, to say who got there first.
EVENT_OF = {
    "acknowledge": EventKind.ACKNOWLEDGED,
    "start": EventKind.STARTED,
    "wait": EventKind.WAITING,
    "resume": EventKind.REPLIED,
    "resolve": EventKind.RESOLVED,
    "close": EventKind.CLOSED,
    "reopen": EventKind.REOPENED,
    "cancel": EventKind.CANCELLED,
    "auto_close": EventKind.CLOSED,
    "close_unconfirmed": EventKind.CLOSED,
}
PRIORITY_ORDER = [Priority.P4, Priority.P3, Priority.P2, Priority.P1]


# --- the transition machinery -----------------------------------------------------------


def claim(handoff: Handoff, action: str, actor, now: datetime, **updates) -> tuple[Handoff, str]:
    """Move the handoff for `action` if its status allows it, else explain why not; the
    handoff comes back locked (handoff first, then its clocks: the one lock order), with
    the role the actor acted in."""
    role = ""
    if actor is not None:
        role = permissions.check(actor, handoff, action).role(handoff)
    sources, target = TRANSITIONS[action]
    if target is not None:
        updates["status"] = target
    updates["updated_at"] = now
    guard = {}
    if "waiting_since" in updates and updates["waiting_since"] is None:
        # A wait ends: add it to the time in the requester's court. The UPDATE is
        # guarded by the wait it measured, so a concurrent change makes it lose.
        since = (
            Handoff.objects.filter(pk=handoff.pk, status__in=sources)
            .values_list("waiting_since", flat=True)
            .first()
        )
        if since is not None:
            guard["waiting_since"] = since
            waited = max(0, int((now - since).total_seconds()))
            updates["waiting_seconds"] = F("waiting_seconds") + waited
    claimed = Handoff.objects.filter(pk=handoff.pk, status__in=sources, **guard).update(**updates)
    fresh = (
        Handoff.objects.select_for_update(no_key=True, of=("self",))
        .select_related("agreement", "provider_team__calendar", "requesting_team", "assignee")
        .get(pk=handoff.pk)
    )
    if not claimed:
        raise Conflict(conflict_message(fresh, action))
    if "reopen_count" in updates or "waiting_seconds" in updates:
        copy_to_clocks(fresh)
    return fresh, role


def copy_to_clocks(handoff: Handoff) -> None:
    """Keep the clocks' copies of the handoff's counters equal to the handoff's (reports
    read them from the clock table; Clock's docstring)."""
    Clock.objects.filter(handoff=handoff).update(
        handoff_reopen_count=handoff.reopen_count,
        handoff_waiting_seconds=handoff.waiting_seconds,
    )


def conflict_message(handoff: Handoff, action: str) -> str:
    status = handoff.get_status_display().lower()
    last = (
        HandoffEvent.objects.filter(handoff=handoff, kind=EVENT_OF.get(action, ""))
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is not None:
        who = last.actor.display_name if last.actor else "the system"
        # In the reader's zone (the request's active zone), and it says which.
        when = timezone.localtime(last.created_at).strftime("%H:%M %Z")
        done = {"acknowledge": "acknowledged", "resume": "resumed"}.get(
            action, EVENT_OF[action].label.lower()
        )
        return f"Already {done} by {who} at {when}; the handoff is now {status}."
    return f"Cannot {action.replace('_', ' ')} a handoff that is {status}."


def record(
    handoff, kind, actor, now, *, comment="", before=None, after=None, role=""
) -> HandoffEvent:
    # The last line of defence behind the forms and serializers (apps.core.limits): the
    # admin, tasks and scripts call services too.
    limits.require_text("comment", comment, limits.HANDOFF_TEXT_MAX)
    after = dict(after or {})
    if role:
        after["role"] = role
    return HandoffEvent.objects.create(
        handoff=handoff,
        kind=kind,
        actor=actor,
        created_at=now,
        comment=comment,
        before=before or {},
        after=after,
    )


def moved(fresh: Handoff, kind: str, actor, now: datetime, *, change=None, **event) -> HandoffEvent:
    """The end of every transition: its line on the timeline, then its clocks in step;
    the line, for the notices the service sends of it."""
    line = record(fresh, kind, actor, now, **event)
    if change is not None:
        clockwork.clocks_change(handoff=fresh, actor=actor, now=now, change=change)
    return line


def now_or(now: datetime | None) -> datetime:
    return now or timezone.now()


def status_before(handoff: Handoff) -> str:
    return Handoff.objects.values_list("status", flat=True).get(pk=handoff.pk)


def raised(priority: str, defined=None) -> str | None:
    """The next priority up that the agreement defines (P3 → P2), or None at the top."""
    index = PRIORITY_ORDER.index(priority)
    for higher in PRIORITY_ORDER[index + 1 :]:
        if defined is None or higher in defined:
            return higher
    return None
