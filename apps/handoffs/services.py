"""Every state change of a handoff: one function per action, a transition table, clocks
kept in step, and a timeline event for each change.

Concurrency: a transition is claimed with a conditional UPDATE (`WHERE status IN
allowed`). Two people acting at once: the database serialises the two UPDATEs on the row,
the second sees the new status, changes nothing, and is told who got there first.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.agreements.models import Agreement, ExceptionWindow, Metric, Priority
from apps.agreements.models import Status as AgreementStatus
from apps.core.exceptions import Conflict

from . import clocks as clockwork
from .models import (
    OPEN_STATUSES,
    Clock,
    ClockStatus,
    EventKind,
    Handoff,
    HandoffEvent,
    Segment,
    Status,
)
from .triage import validate_triage

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
}
PRIORITY_ORDER = [Priority.P4, Priority.P3, Priority.P2, Priority.P1]


# --- who may act ------------------------------------------------------------------------


def _member_of(user, team_id: int) -> bool:
    return user.is_authenticated and user.memberships.filter(team_id=team_id).exists()


def is_provider(user, handoff: Handoff) -> bool:
    return user.is_staff or _member_of(user, handoff.provider_team_id)


def is_requester(user, handoff: Handoff) -> bool:
    return user.is_staff or _member_of(user, handoff.requesting_team_id)


# Which side may take each action (DESIGN "Who may do what").
ALLOWED_SIDE = {
    "acknowledge": "provider",
    "start": "provider",
    "action_plan": "provider",
    "wait": "provider",
    "resume": "either",  # the requester replies; the provider may also resume
    "resolve": "provider",
    "close": "either",
    "reopen": "requester",
    "cancel": "either",
    "auto_close": "system",
    "assign": "provider",
    "priority": "either",
    "comment": "either",
}


def _sides(user, handoff: Handoff) -> set[str]:
    """Which sides of the handoff the user is on, in one query (staff count as both)."""
    if not user.is_authenticated:
        return set()
    if user.is_staff:
        return {"provider", "requester"}
    team_ids = set(
        user.memberships.filter(
            team_id__in=[handoff.provider_team_id, handoff.requesting_team_id]
        ).values_list("team_id", flat=True)
    )
    sides = set()
    if handoff.provider_team_id in team_ids:
        sides.add("provider")
    if handoff.requesting_team_id in team_ids:
        sides.add("requester")
    return sides


def _allowed(sides: set[str], action: str) -> bool:
    side = ALLOWED_SIDE[action]
    if side == "system":
        return False
    return bool(sides) if side == "either" else side in sides


def may(user, handoff: Handoff, action: str) -> bool:
    return _allowed(_sides(user, handoff), action)


def available_actions(user, handoff: Handoff) -> set[str]:
    """The actions this user may take on the handoff in its current status."""
    sides = _sides(user, handoff)
    actions = {
        action
        for action, (sources, _) in TRANSITIONS.items()
        if handoff.status in sources and _allowed(sides, action)
    }
    if handoff.is_open:
        actions |= {a for a in ("assign", "priority") if _allowed(sides, a)}
    if _allowed(sides, "comment"):
        actions.add("comment")
    plan = handoff.clock(Metric.ACTION_PLAN)
    if (
        "action_plan" in actions
        and plan is not None
        and plan.status
        in (
            ClockStatus.MET,
            ClockStatus.BREACHED,
        )
    ):
        # A second plan is an update: post it as a comment.
        actions.discard("action_plan")
    return actions


# --- clocks ------------------------------------------------------------------------------


def _windows(agreement: Agreement, since: datetime) -> list[ExceptionWindow]:
    return list(ExceptionWindow.objects.approved().covering(agreement).filter(end__gt=since))


class ClockContext:
    """Everything the clock arithmetic needs for one handoff, loaded once."""

    def __init__(self, handoff: Handoff, since: datetime | None = None):
        agreement = (
            Agreement.objects.select_related("series", "calendar")
            .prefetch_related("calendar__intervals", "calendar__holidays", "escalation_steps")
            .get(pk=handoff.agreement_id)
        )
        self.agreement = agreement
        self.windows = _windows(agreement, since or handoff.created_at)
        self._hours = {}

    def hours(self, around_the_clock: bool):
        if around_the_clock not in self._hours:
            self._hours[around_the_clock] = clockwork.business_hours(
                self.agreement, around_the_clock=around_the_clock, windows=self.windows
            )
        return self._hours[around_the_clock]

    def ladder(self, metric: str) -> list[int]:
        return [s.percent for s in self.agreement.escalation_steps.all() if s.metric == metric]

    def refresh(self, clock: Clock) -> None:
        clockwork.refresh_deadlines(
            clock,
            self.hours(clock.around_the_clock),
            warning_threshold=self.agreement.warning_threshold,
            ladder=self.ladder(clock.metric),
        )


CLOCK_STATE_FIELDS = (
    "target_seconds",
    "around_the_clock",
    "status",
    "segment_started_at",
    "consumed_seconds",
    "paused_seconds",
    "pauses",
    "due_at",
    "warning_at",
    "next_step_at",
    "fired_percent",
    "met_at",
    "breached_at",
    "stopped_at",
)


def _state(clock: Clock) -> tuple:
    return tuple(getattr(clock, f) for f in CLOCK_STATE_FIELDS)


def _save_clocks(handoff: Handoff, clocks: list[Clock], before: dict[int, tuple]) -> None:
    # One plain UPDATE per clock that changed: cheaper than bulk_update's CASE expressions
    # for the one to three clocks a transition touches.
    for clock in clocks:
        if before.get(clock.pk) != _state(clock):
            Clock.objects.filter(pk=clock.pk).update(
                **{f: getattr(clock, f) for f in CLOCK_STATE_FIELDS}
            )
    due = [c.due_at for c in clocks if c.status == ClockStatus.RUNNING and c.due_at]
    handoff.due_at = min(due) if due else None
    Handoff.objects.filter(pk=handoff.pk).update(due_at=handoff.due_at)


def _clock_events(handoff: Handoff, clocks: list[Clock], before: dict, actor, now) -> None:
    for clock in clocks:
        status_before, breached_before = before.get(clock.metric, (None, None))
        if status_before == clock.status:
            continue
        if clock.status == ClockStatus.BREACHED and breached_before is not None:
            continue  # the sweep recorded the breach when it happened
        if clock.status in (ClockStatus.MET, ClockStatus.BREACHED):
            HandoffEvent.objects.create(
                handoff=handoff,
                kind=EventKind.CLOCK_MET
                if clock.status == ClockStatus.MET
                else EventKind.CLOCK_BREACHED,
                actor=actor,
                created_at=now,
                after={
                    "metric": clock.metric,
                    "consumed_seconds": clock.consumed_seconds,
                    "target_seconds": clock.target_seconds,
                },
            )


def _apply_to_clocks(handoff: Handoff, actor, now: datetime, change) -> list[Clock]:
    """Lock the handoff's clocks, let `change(clock, ctx)` act on each, recompute deadlines,
    save, and record met/breached events."""
    ctx = ClockContext(handoff)
    clocks = list(Clock.objects.select_for_update().filter(handoff=handoff).order_by("metric"))
    before = {c.metric: (c.status, c.breached_at) for c in clocks}
    states = {c.pk: _state(c) for c in clocks}
    for clock in clocks:
        change(clock, ctx)
        ctx.refresh(clock)
    _save_clocks(handoff, clocks, states)
    _clock_events(handoff, clocks, before, actor, now)
    return clocks


# --- the transition machinery -----------------------------------------------------------


def _claim(handoff: Handoff, action: str, actor, now: datetime, **updates) -> Handoff:
    """Move the handoff for `action` if its status allows it, else explain why not."""
    if actor is not None and not may(actor, handoff, action):
        raise PermissionDenied("You are not on a team that may do that on this handoff.")
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
    fresh = Handoff.objects.select_for_update().get(pk=handoff.pk)
    if not claimed:
        raise Conflict(_conflict_message(fresh, action))
    if "reopen_count" in updates or "waiting_seconds" in updates:
        _copy_to_clocks(fresh)
    return fresh


def _copy_to_clocks(handoff: Handoff) -> None:
    """Keep the clocks' copies of the handoff's counters equal to the handoff's (reports
    read them from the clock table; Clock's docstring)."""
    Clock.objects.filter(handoff=handoff).update(
        handoff_reopen_count=handoff.reopen_count,
        handoff_waiting_seconds=handoff.waiting_seconds,
    )


def _conflict_message(handoff: Handoff, action: str) -> str:
    status = handoff.get_status_display().lower()
    last = (
        HandoffEvent.objects.filter(handoff=handoff, kind=EVENT_OF.get(action, ""))
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    if last is not None:
        who = last.actor.display_name if last.actor else "the system"
        when = timezone.localtime(last.created_at).strftime("%H:%M")
        done = {"acknowledge": "acknowledged", "resume": "resumed"}.get(
            action, EVENT_OF[action].label.lower()
        )
        return f"Already {done} by {who} at {when}; the handoff is now {status}."
    return f"Cannot {action.replace('_', ' ')} a handoff that is {status}."


def _event(handoff, kind, actor, now, *, comment="", before=None, after=None) -> HandoffEvent:
    return HandoffEvent.objects.create(
        handoff=handoff,
        kind=kind,
        actor=actor,
        created_at=now,
        comment=comment,
        before=before or {},
        after=after or {},
    )


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


# --- services -----------------------------------------------------------------------------


@transaction.atomic
def handoff_create(
    *,
    actor,
    agreement: Agreement,
    title: str,
    priority: str,
    triage: dict | None = None,
    description: str = "",
    customer_segment: str = Segment.BUSINESS,
    impacted_customers: int = 0,
    now: datetime | None = None,
) -> Handoff:
    """File a handoff under the agreement version in force; its clocks start now."""
    now = _now(now)
    agreement = (
        Agreement.objects.select_related("series")
        .prefetch_related("targets", "triage_fields")
        .get(pk=agreement.pk)
    )
    series = agreement.series
    if not (actor.is_staff or _member_of(actor, series.requesting_team_id)):
        raise PermissionDenied("Only members of the requesting team may file under it.")
    errors: dict[str, list[str]] = {}
    if agreement.status != AgreementStatus.ACTIVE:
        errors["agreement"] = ["Only an active agreement accepts new handoffs."]
    if not (title or "").strip():
        errors["title"] = ["Give the handoff a title."]
    target = agreement.target_for(priority)
    if target is None:
        defined = ", ".join(t.priority for t in agreement.targets.all()) or "none"
        errors["priority"] = [f"This agreement defines priorities {defined}."]
    if customer_segment not in Segment.values:
        errors["customer_segment"] = ["Choose a customer segment."]
    if impacted_customers is None or impacted_customers < 0:
        errors["impacted_customers"] = ["The number of impacted customers cannot be negative."]
    try:
        cleaned = validate_triage(list(agreement.triage_fields.all()), triage)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    handoff = Handoff.objects.create(
        agreement=agreement,
        provider_team_id=series.provider_team_id,
        requesting_team_id=series.requesting_team_id,
        title=title.strip(),
        description=description,
        priority=priority,
        customer_segment=customer_segment,
        impacted_customers=impacted_customers,
        triage=cleaned,
        created_by=actor,
        created_at=now,
    )
    Handoff.objects.filter(pk=handoff.pk).update(created_at=now, updated_at=now)
    handoff.created_at = now
    ctx = ClockContext(handoff)
    clocks = []
    for metric in Metric.values:
        clock = Clock(
            handoff=handoff,
            metric=metric,
            # Copies for reports, kept equal by the services (Clock's docstring).
            provider_team_id=handoff.provider_team_id,
            requesting_team_id=handoff.requesting_team_id,
            series_id=series.pk,
            priority=priority,
            customer_segment=customer_segment,
            target_seconds=target.seconds_for(metric),
            around_the_clock=target.around_the_clock,
            started_at=now,
            segment_started_at=now,
        )
        ctx.refresh(clock)
        clocks.append(clock)
    Clock.objects.bulk_create(clocks)
    due = [c.due_at for c in clocks if c.due_at]
    handoff.due_at = min(due) if due else None
    Handoff.objects.filter(pk=handoff.pk).update(due_at=handoff.due_at)
    _event(handoff, EventKind.CREATED, actor, now, after={"priority": priority, "status": "new"})
    return handoff


def _stopping(handoff: Handoff, actor, now: datetime, *metrics: str) -> None:
    def change(clock: Clock, ctx: ClockContext) -> None:
        if clock.metric in metrics and clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            clockwork.stop(clock, ctx.hours(clock.around_the_clock), now)

    _apply_to_clocks(handoff, actor, now, change)


@transaction.atomic
def handoff_acknowledge(*, handoff: Handoff, actor, now: datetime | None = None) -> Handoff:
    """Acknowledge a new handoff: the acknowledge clock stops; it is assigned to the actor
    if nobody has it yet."""
    now = _now(now)
    updates = {"acknowledged_at": now}
    fresh = _claim(handoff, "acknowledge", actor, now, **updates)
    if fresh.assignee_id is None:
        Handoff.objects.filter(pk=fresh.pk).update(assignee=actor)
        fresh.assignee = actor
    _event(
        fresh,
        EventKind.ACKNOWLEDGED,
        actor,
        now,
        before={"status": "new"},
        after={"status": fresh.status, "assignee": fresh.assignee_id},
    )
    _stopping(fresh, actor, now, Metric.ACKNOWLEDGE)
    return fresh


@transaction.atomic
def handoff_start(*, handoff: Handoff, actor, now: datetime | None = None) -> Handoff:
    """Start work (acknowledging it first if it was new)."""
    now = _now(now)
    previous = Handoff.objects.values_list("status", flat=True).get(pk=handoff.pk)
    updates = {} if previous != Status.NEW else {"acknowledged_at": now}
    fresh = _claim(handoff, "start", actor, now, **updates)
    if fresh.assignee_id is None:
        Handoff.objects.filter(pk=fresh.pk).update(assignee=actor)
        fresh.assignee = actor
    _event(
        fresh,
        EventKind.STARTED,
        actor,
        now,
        before={"status": previous},
        after={"status": fresh.status},
    )
    if previous == Status.NEW:
        _stopping(fresh, actor, now, Metric.ACKNOWLEDGE)
    return fresh


@transaction.atomic
def handoff_post_action_plan(
    *, handoff: Handoff, actor, plan: str, now: datetime | None = None
) -> Handoff:
    """Post the action plan (the first substantive update): its clock stops."""
    now = _now(now)
    if not (plan or "").strip():
        raise ValidationError({"plan": ["Write the plan: what will be done, by when."]})
    previous = Handoff.objects.values_list("status", flat=True).get(pk=handoff.pk)
    updates = {}
    if previous in (Status.NEW, Status.ACKNOWLEDGED):
        updates = {"status": Status.IN_PROGRESS}
        if previous == Status.NEW:
            updates["acknowledged_at"] = now
    fresh = _claim(handoff, "action_plan", actor, now, **updates)
    plan_clock = Clock.objects.filter(handoff=fresh, metric=Metric.ACTION_PLAN).first()
    if plan_clock and plan_clock.status in (ClockStatus.MET, ClockStatus.BREACHED):
        raise Conflict("The action plan was already posted; add an update as a comment.")
    stops = [Metric.ACTION_PLAN] + ([Metric.ACKNOWLEDGE] if previous == Status.NEW else [])
    _event(
        fresh,
        EventKind.ACTION_PLAN,
        actor,
        now,
        comment=plan.strip(),
        before={"status": previous},
        after={"status": fresh.status},
    )
    _stopping(fresh, actor, now, *stops)
    return fresh


@transaction.atomic
def handoff_wait_on_requester(
    *, handoff: Handoff, actor, question: str, now: datetime | None = None
) -> Handoff:
    """Ask the requester something; the metrics the target marks pausable pause."""
    now = _now(now)
    if not (question or "").strip():
        raise ValidationError({"question": ["Ask the requester what you need from them."]})
    previous = Handoff.objects.values_list("status", flat=True).get(pk=handoff.pk)
    fresh = _claim(handoff, "wait", actor, now, waiting_since=now)
    target = fresh.agreement.target_for(fresh.priority)

    def change(clock: Clock, ctx: ClockContext) -> None:
        if (
            clock.status == ClockStatus.RUNNING
            and target is not None
            and target.pauses(clock.metric)
        ):
            clockwork.pause(clock, ctx.hours(clock.around_the_clock), now)

    _event(
        fresh,
        EventKind.WAITING,
        actor,
        now,
        comment=question.strip(),
        before={"status": previous},
        after={"status": fresh.status},
    )
    _apply_to_clocks(fresh, actor, now, change)
    return fresh


@transaction.atomic
def handoff_resume(
    *, handoff: Handoff, actor, reply: str = "", now: datetime | None = None
) -> Handoff:
    """The requester replied (or the provider resumes): paused clocks run again."""
    now = _now(now)
    fresh = _claim(handoff, "resume", actor, now, waiting_since=None)

    def change(clock: Clock, ctx: ClockContext) -> None:
        if clock.status == ClockStatus.PAUSED:
            clockwork.resume(clock, now)

    _event(
        fresh,
        EventKind.REPLIED,
        actor,
        now,
        comment=(reply or "").strip(),
        before={"status": Status.WAITING},
        after={"status": fresh.status},
    )
    _apply_to_clocks(fresh, actor, now, change)
    return fresh


@transaction.atomic
def handoff_resolve(
    *, handoff: Handoff, actor, resolution: str, now: datetime | None = None
) -> Handoff:
    """Resolve with a resolution note: the resolve clock (and a plan still pending) stop."""
    now = _now(now)
    if not (resolution or "").strip():
        raise ValidationError({"resolution": ["Say what was done to resolve it."]})
    previous = Handoff.objects.values_list("status", flat=True).get(pk=handoff.pk)
    fresh = _claim(handoff, "resolve", actor, now, resolved_at=now, waiting_since=None)
    _event(
        fresh,
        EventKind.RESOLVED,
        actor,
        now,
        comment=resolution.strip(),
        before={"status": previous},
        after={"status": fresh.status},
    )
    _stopping(fresh, actor, now, Metric.ACTION_PLAN, Metric.RESOLVE)
    return fresh


@transaction.atomic
def handoff_close(*, handoff: Handoff, actor, comment: str = "", now: datetime | None = None):
    """Confirm a resolution: the handoff is done for good."""
    now = _now(now)
    fresh = _claim(handoff, "close", actor, now, closed_at=now)
    _event(
        fresh,
        EventKind.CLOSED,
        actor,
        now,
        comment=comment,
        before={"status": Status.RESOLVED},
        after={"status": fresh.status},
    )
    return fresh


@transaction.atomic
def handoff_reopen(*, handoff: Handoff, actor, reason: str, now: datetime | None = None):
    """The fix did not hold: back in progress, the resolve clock resumes from what it had
    consumed, and the reopen is counted."""
    now = _now(now)
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why it is not resolved."]})
    current = Handoff.objects.values_list("reopen_count", flat=True).get(pk=handoff.pk)
    fresh = _claim(handoff, "reopen", actor, now, resolved_at=None, reopen_count=current + 1)

    def change(clock: Clock, ctx: ClockContext) -> None:
        if clock.metric == Metric.RESOLVE and clock.status in (
            ClockStatus.MET,
            ClockStatus.BREACHED,
        ):
            clockwork.reopen(clock, now)

    _event(
        fresh,
        EventKind.REOPENED,
        actor,
        now,
        comment=reason.strip(),
        before={"status": Status.RESOLVED, "reopen_count": current},
        after={"status": fresh.status, "reopen_count": fresh.reopen_count},
    )
    _apply_to_clocks(fresh, actor, now, change)
    return fresh


@transaction.atomic
def handoff_cancel(*, handoff: Handoff, actor, reason: str, now: datetime | None = None):
    """Withdraw an open handoff; its clocks stop without a verdict."""
    now = _now(now)
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why it is cancelled."]})
    previous = Handoff.objects.values_list("status", flat=True).get(pk=handoff.pk)
    fresh = _claim(handoff, "cancel", actor, now, waiting_since=None)

    def change(clock: Clock, ctx: ClockContext) -> None:
        if clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            clockwork.cancel(clock, ctx.hours(clock.around_the_clock), now)

    _event(
        fresh,
        EventKind.CANCELLED,
        actor,
        now,
        comment=reason.strip(),
        before={"status": previous},
        after={"status": fresh.status},
    )
    _apply_to_clocks(fresh, actor, now, change)
    return fresh


@transaction.atomic
def handoff_assign(*, handoff: Handoff, actor, assignee, now: datetime | None = None):
    """Give the handoff to a provider-team member (or take it: assignee = actor), or
    unassign it (assignee None)."""
    now = _now(now)
    if not may(actor, handoff, "assign"):
        raise PermissionDenied("Only the provider team assigns its work.")
    fresh = Handoff.objects.select_for_update().get(pk=handoff.pk)
    if not fresh.is_open:
        raise Conflict(f"A {fresh.get_status_display().lower()} handoff cannot be reassigned.")
    if (
        assignee is not None
        and not assignee.memberships.filter(team_id=fresh.provider_team_id).exists()
    ):
        raise ValidationError({"assignee": ["Assign to a member of the provider team."]})
    if fresh.assignee_id == (assignee.pk if assignee else None):
        who = assignee.display_name if assignee else "nobody"
        raise Conflict(f"Already assigned to {who}.")
    before = fresh.assignee_id
    fresh.assignee = assignee
    fresh.updated_at = now
    fresh.save(update_fields=["assignee", "updated_at"])
    _event(
        fresh,
        EventKind.ASSIGNED,
        actor,
        now,
        before={"assignee": before},
        after={"assignee": assignee.pk if assignee else None},
    )
    return fresh


@transaction.atomic
def handoff_claim(*, handoff: Handoff, actor, now: datetime | None = None) -> Handoff:
    """Take an unassigned handoff; someone else claiming it first wins."""
    now = _now(now)
    if not may(actor, handoff, "assign"):
        raise PermissionDenied("Only the provider team claims its work.")
    claimed = Handoff.objects.filter(
        pk=handoff.pk, assignee__isnull=True, status__in=OPEN_STATUSES
    ).update(assignee=actor, updated_at=now)
    fresh = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("assignee")
        .get(pk=handoff.pk)
    )
    if not claimed:
        if fresh.assignee_id:
            raise Conflict(f"Already claimed by {fresh.assignee.display_name}.")
        raise Conflict(f"A {fresh.get_status_display().lower()} handoff cannot be claimed.")
    _event(
        fresh,
        EventKind.ASSIGNED,
        actor,
        now,
        before={"assignee": None},
        after={"assignee": actor.pk},
    )
    return fresh


@transaction.atomic
def handoff_change_priority(
    *,
    handoff: Handoff,
    actor,
    priority: str,
    reason: str,
    now: datetime | None = None,
    system: bool = False,
) -> Handoff:
    """Change the priority: clocks keep their consumed time and take the new targets."""
    now = _now(now)
    if not system and not may(actor, handoff, "priority"):
        raise PermissionDenied("Only the two teams change a handoff's priority.")
    fresh = Handoff.objects.select_for_update().get(pk=handoff.pk)
    errors = {}
    if not (reason or "").strip():
        errors["reason"] = ["Say why the priority changes."]
    target = fresh.agreement.target_for(priority) if priority in Priority.values else None
    if target is None:
        errors["priority"] = ["This agreement does not define that priority."]
    if errors:
        raise ValidationError(errors)
    if not fresh.is_open:
        raise Conflict(f"A {fresh.get_status_display().lower()} handoff keeps its priority.")
    if fresh.priority == priority:
        raise Conflict(f"The priority is already {priority}.")
    before = fresh.priority

    def change(clock: Clock, ctx: ClockContext) -> None:
        if clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            clockwork.retarget(
                clock,
                target.seconds_for(clock.metric),
                target.around_the_clock,
                ctx.hours(clock.around_the_clock),
                now,
            )

    fresh.priority = priority
    fresh.updated_at = now
    fresh.save(update_fields=["priority", "updated_at"])
    # Every clock, finished ones too: reports count a handoff under its priority now.
    Clock.objects.filter(handoff=fresh).update(priority=priority)
    _event(
        fresh,
        EventKind.PRIORITY,
        actor,
        now,
        comment=reason.strip(),
        before={"priority": before},
        after={"priority": priority},
    )
    _apply_to_clocks(fresh, actor, now, change)
    return fresh


def raised(priority: str) -> str | None:
    """The next priority up (P3 → P2), or None at P1."""
    index = PRIORITY_ORDER.index(priority)
    return PRIORITY_ORDER[index + 1] if index + 1 < len(PRIORITY_ORDER) else None


@transaction.atomic
def handoff_comment(*, handoff: Handoff, actor, comment: str, now: datetime | None = None):
    """Add a comment to the timeline."""
    now = _now(now)
    if not may(actor, handoff, "comment"):
        raise PermissionDenied("Only the two teams comment on a handoff.")
    if not (comment or "").strip():
        raise ValidationError({"comment": ["Write something."]})
    return _event(handoff, EventKind.COMMENTED, actor, now, comment=comment.strip())


@transaction.atomic
def handoff_auto_close(*, handoff: Handoff, now: datetime | None = None) -> Handoff:
    """Close a handoff that waited on its requester past the agreement's limit; its clocks
    stop without a verdict (nobody failed a target: the requester went silent)."""
    now = _now(now)
    fresh = _claim(handoff, "auto_close", None, now, closed_at=now, waiting_since=None)
    _event(
        fresh,
        EventKind.CLOSED,
        None,
        now,
        comment="Closed automatically: no reply from the requester.",
        before={"status": Status.WAITING},
        after={"status": fresh.status},
    )

    def change(clock: Clock, ctx: ClockContext) -> None:
        if clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            clockwork.cancel(clock, ctx.hours(clock.around_the_clock), now)

    _apply_to_clocks(fresh, None, now, change)
    return fresh
