"""Every state change of a handoff: one function per action (on the machinery of
transitions.py: the table, the claim, the timeline), clocks
kept in step, and a timeline event for each change.

Concurrency: a transition is claimed with a conditional UPDATE (`WHERE status IN
allowed`). Two people acting at once: the database serialises the two UPDATEs on the row,
the second sees the new status, changes nothing, and is told who got there first.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError

from apps.agreements.models import Agreement, Metric
from apps.agreements.models import Status as AgreementStatus
from apps.core import limits
from apps.core.exceptions import Conflict

from . import event_notices, permissions
from .clockwork import rollups
from .clockwork import services as clockwork
from .comments import handoff_comment
from .models import (
    OPEN_STATUSES,
    Clock,
    EventKind,
    Handoff,
    Segment,
    Status,
)
from .priority import handoff_change_priority, handoff_raise_priority
from .transitions import (
    TRANSITIONS,
    claim,
    moved,
    now_or,
    record,
    status_before,
)
from .triage import validate_triage
from .watchers import watch

# Every handoff service, those written in their own modules (comments.py, priority.py)
# included: callers reach them all through this module.
__all__ = [
    "available_actions",
    "handoff_acknowledge",
    "handoff_assign",
    "handoff_auto_close",
    "handoff_cancel",
    "handoff_change_priority",
    "handoff_claim",
    "handoff_close",
    "handoff_close_unconfirmed",
    "handoff_comment",
    "handoff_create",
    "handoff_post_action_plan",
    "handoff_raise_priority",
    "handoff_reopen",
    "handoff_resolve",
    "handoff_resume",
    "handoff_start",
    "handoff_wait_on_requester",
    "is_provider",
    "is_requester",
    "may",
]


# --- who may act (apps.handoffs.permissions) -----------------------------------------------

may = permissions.may
is_provider = permissions.is_provider
is_requester = permissions.is_requester


def available_actions(user, handoff: Handoff) -> set[str]:
    """The actions this user may take on the handoff in its current status."""
    return permissions.available_actions(user, handoff, TRANSITIONS)


# --- services -----------------------------------------------------------------------------


@rollups.one_change
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
    now = now_or(now)
    agreement = (
        Agreement.objects.select_related("series")
        .prefetch_related("targets", "triage_fields")
        .get(pk=agreement.pk)
    )
    series = agreement.series
    if not (actor.is_staff or actor.memberships.filter(team_id=series.requesting_team_id).exists()):
        raise PermissionDenied("Only members of the requesting team may file under it.")
    errors: dict[str, list[str]] = {}
    if agreement.status != AgreementStatus.ACTIVE:
        errors["agreement"] = ["Only an active agreement accepts new handoffs."]
    if not (title or "").strip():
        errors["title"] = ["Give the handoff a title."]
    limits.check_text(errors, "title", title, limits.TITLE_MAX)
    limits.check_text(errors, "description", description, limits.HANDOFF_TEXT_MAX)
    target = agreement.target_for(priority)
    if target is None:
        defined = ", ".join(t.priority for t in agreement.targets.all()) or "none"
        errors["priority"] = [f"This agreement defines priorities {defined}."]
    if customer_segment not in Segment.values:
        errors["customer_segment"] = ["Choose a customer segment."]
    if impacted_customers is None or impacted_customers < 0:
        errors["impacted_customers"] = ["The number of impacted customers cannot be negative."]
    elif impacted_customers > limits.IMPACTED_CUSTOMERS_MAX:
        errors["impacted_customers"] = [
            f"At most {limits.IMPACTED_CUSTOMERS_MAX:,} impacted customers can be given."
        ]
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
    clockwork.clocks_start(handoff=handoff, target=target, now=now)
    watch(handoff, [actor], now)
    event = record(
        handoff, EventKind.CREATED, actor, now, after={"priority": priority, "status": "new"}
    )
    event_notices.filed(event)
    return handoff


def _take(fresh: Handoff, actor, now: datetime) -> None:
    """Whoever first acts on an unassigned handoff has it (and watches it)."""
    if fresh.assignee_id is None:
        Handoff.objects.filter(pk=fresh.pk).update(assignee=actor)
        fresh.assignee = actor
        watch(fresh, [actor], now)


@rollups.one_change
def handoff_acknowledge(*, handoff: Handoff, actor, now: datetime | None = None) -> Handoff:
    """Acknowledge a new handoff: the acknowledge clock stops; it is assigned to the actor
    if nobody has it yet."""
    now = now_or(now)
    fresh, role = claim(handoff, "acknowledge", actor, now, acknowledged_at=now)
    _take(fresh, actor, now)
    event = moved(
        fresh,
        EventKind.ACKNOWLEDGED,
        actor,
        now,
        before={"status": "new"},
        after={"status": fresh.status, "assignee": fresh.assignee_id},
        role=role,
        change=clockwork.stopping([Metric.ACKNOWLEDGE], now),
    )
    event_notices.acknowledged(event)
    return fresh


@rollups.one_change
def handoff_start(*, handoff: Handoff, actor, now: datetime | None = None) -> Handoff:
    """Start work (acknowledging it first if it was new)."""
    now = now_or(now)
    previous = status_before(handoff)
    handoff.status = previous
    updates = {} if previous != Status.NEW else {"acknowledged_at": now}
    fresh, role = claim(handoff, "start", actor, now, **updates)
    _take(fresh, actor, now)
    event = record(
        fresh,
        EventKind.STARTED,
        actor,
        now,
        before={"status": previous},
        after={"status": fresh.status},
        role=role,
    )
    if previous == Status.NEW:
        clockwork.clocks_change(
            handoff=fresh,
            actor=actor,
            now=now,
            change=clockwork.stopping([Metric.ACKNOWLEDGE], now),
        )
        # Starting a new handoff is its acknowledgement, as far as the requester goes.
        event_notices.acknowledged(event)
    return fresh


@rollups.one_change
def handoff_post_action_plan(
    *, handoff: Handoff, actor, plan: str, now: datetime | None = None
) -> Handoff:
    """Post the action plan (the first substantive update): its clock stops."""
    now = now_or(now)
    if not (plan or "").strip():
        raise ValidationError({"plan": ["Write the plan: what will be done, by when."]})
    previous = status_before(handoff)
    handoff.status = previous
    updates = {}
    if previous in (Status.NEW, Status.ACKNOWLEDGED):
        updates = {"status": Status.IN_PROGRESS}
        if previous == Status.NEW:
            updates["acknowledged_at"] = now
    fresh, role = claim(handoff, "action_plan", actor, now, **updates)
    plan_clock = Clock.objects.filter(handoff=fresh, metric=Metric.ACTION_PLAN).first()
    if plan_clock and plan_clock.status in ("met", "breached"):
        raise Conflict("The action plan was already posted; add an update as a comment.")
    stops = [Metric.ACTION_PLAN] + ([Metric.ACKNOWLEDGE] if previous == Status.NEW else [])
    event = moved(
        fresh,
        EventKind.ACTION_PLAN,
        actor,
        now,
        comment=plan.strip(),
        before={"status": previous},
        after={"status": fresh.status},
        role=role,
        change=clockwork.stopping(stops, now),
    )
    event_notices.action_plan(event)
    return fresh


@rollups.one_change
def handoff_wait_on_requester(
    *, handoff: Handoff, actor, question: str, now: datetime | None = None
) -> Handoff:
    """Ask the requester something; the metrics the target marks pausable pause."""
    now = now_or(now)
    if not (question or "").strip():
        raise ValidationError({"question": ["Ask the requester what you need from them."]})
    previous = status_before(handoff)
    fresh, role = claim(handoff, "wait", actor, now, waiting_since=now)
    target = fresh.agreement.target_for(fresh.priority)
    event = moved(
        fresh,
        EventKind.WAITING,
        actor,
        now,
        comment=question.strip(),
        before={"status": previous},
        after={"status": fresh.status},
        role=role,
        change=clockwork.pausing(lambda m: target is not None and target.pauses(m), now),
    )
    event_notices.question(event)
    return fresh


@rollups.one_change
def handoff_resume(
    *, handoff: Handoff, actor, reply: str = "", now: datetime | None = None
) -> Handoff:
    """The requester replied (or the provider resumes): paused clocks run again."""
    now = now_or(now)
    fresh, role = claim(handoff, "resume", actor, now, waiting_since=None)
    replied = actor is not None and permissions.standing(actor, fresh).requester
    event = moved(
        fresh,
        EventKind.REPLIED if replied else EventKind.RESUMED,
        actor,
        now,
        comment=(reply or "").strip(),
        before={"status": Status.WAITING},
        after={"status": fresh.status},
        role=role,
        change=clockwork.resuming(now),
    )
    if replied:
        event_notices.replied(event)
    return fresh


@rollups.one_change
def handoff_resolve(
    *, handoff: Handoff, actor, resolution: str, now: datetime | None = None
) -> Handoff:
    """Resolve with a resolution note: the resolve clock (and a plan still pending) stop."""
    now = now_or(now)
    if not (resolution or "").strip():
        raise ValidationError({"resolution": ["Say what was done to resolve it."]})
    previous = status_before(handoff)
    fresh, role = claim(handoff, "resolve", actor, now, resolved_at=now, waiting_since=None)
    event = moved(
        fresh,
        EventKind.RESOLVED,
        actor,
        now,
        comment=resolution.strip(),
        before={"status": previous},
        after={"status": fresh.status},
        role=role,
        change=clockwork.stopping([Metric.ACTION_PLAN, Metric.RESOLVE], now),
    )
    event_notices.resolved(event)
    return fresh


@rollups.one_change
def handoff_close(*, handoff: Handoff, actor, comment: str = "", now: datetime | None = None):
    """Confirm a resolution: the handoff is done for good (by whoever the agreement says
    validates the resolution)."""
    now = now_or(now)
    fresh, role = claim(handoff, "close", actor, now, closed_at=now)
    event = record(
        fresh,
        EventKind.CLOSED,
        actor,
        now,
        comment=comment,
        before={"status": Status.RESOLVED},
        after={"status": fresh.status},
        role=role,
    )
    event_notices.confirmed(event)
    return fresh


@rollups.one_change
def handoff_reopen(*, handoff: Handoff, actor, reason: str, now: datetime | None = None):
    """The fix did not hold: back in progress, the resolve clock resumes from what it had
    consumed, and the reopen is counted."""
    now = now_or(now)
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why it is not resolved."]})
    current = Handoff.objects.values_list("reopen_count", flat=True).get(pk=handoff.pk)
    fresh, role = claim(handoff, "reopen", actor, now, resolved_at=None, reopen_count=current + 1)
    event = moved(
        fresh,
        EventKind.REOPENED,
        actor,
        now,
        comment=reason.strip(),
        before={"status": Status.RESOLVED, "reopen_count": current},
        after={"status": fresh.status, "reopen_count": fresh.reopen_count},
        role=role,
        change=clockwork.reopening([Metric.RESOLVE], now),
    )
    event_notices.reopened(event)
    return fresh


@rollups.one_change
def handoff_cancel(*, handoff: Handoff, actor, reason: str, now: datetime | None = None):
    """Withdraw an open handoff; its clocks stop without a verdict."""
    now = now_or(now)
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why it is cancelled."]})
    previous = status_before(handoff)
    fresh, role = claim(handoff, "cancel", actor, now, waiting_since=None)
    event = moved(
        fresh,
        EventKind.CANCELLED,
        actor,
        now,
        comment=reason.strip(),
        before={"status": previous},
        after={"status": fresh.status},
        role=role,
        change=clockwork.cancelling(now),
    )
    event_notices.cancelled(event)
    return fresh


@rollups.one_change
def handoff_assign(*, handoff: Handoff, actor, assignee, now: datetime | None = None):
    """Give the handoff to a provider-team member (or take it: assignee = actor), or
    unassign it (assignee None)."""
    now = now_or(now)
    if not may(actor, handoff, "assign"):
        raise PermissionDenied("Only the provider team assigns its work.")
    fresh = Handoff.objects.select_for_update(no_key=True).get(pk=handoff.pk)
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
    watch(fresh, [assignee], now)
    event = record(
        fresh,
        EventKind.ASSIGNED,
        actor,
        now,
        before={"assignee": before},
        after={"assignee": assignee.pk if assignee else None},
    )
    if assignee is not None:
        event_notices.assigned(event, assignee)
    return fresh


@rollups.one_change
def handoff_claim(*, handoff: Handoff, actor, now: datetime | None = None) -> Handoff:
    """Take an unassigned handoff; someone else claiming it first wins."""
    now = now_or(now)
    if not may(actor, handoff, "assign"):
        raise PermissionDenied("Only the provider team claims its work.")
    claimed = Handoff.objects.filter(
        pk=handoff.pk, assignee__isnull=True, status__in=OPEN_STATUSES
    ).update(assignee=actor, updated_at=now)
    fresh = (
        Handoff.objects.select_for_update(no_key=True, of=("self",))
        .select_related("assignee")
        .get(pk=handoff.pk)
    )
    if not claimed:
        if fresh.assignee_id:
            raise Conflict(f"Already claimed by {fresh.assignee.display_name}.")
        raise Conflict(f"A {fresh.get_status_display().lower()} handoff cannot be claimed.")
    watch(fresh, [actor], now)
    record(
        fresh,
        EventKind.ASSIGNED,
        actor,
        now,
        before={"assignee": None},
        after={"assignee": actor.pk},
    )
    return fresh


@rollups.one_change
def handoff_auto_close(*, handoff: Handoff, now: datetime | None = None) -> Handoff:
    """Close a handoff that waited on its requester past the agreement's limit; its clocks
    stop without a verdict (nobody failed a target: the requester went silent)."""
    now = now_or(now)
    fresh, _ = claim(handoff, "auto_close", None, now, closed_at=now, waiting_since=None)
    event = moved(
        fresh,
        EventKind.CLOSED,
        None,
        now,
        comment="Closed automatically: no reply from the requester.",
        before={"status": Status.WAITING},
        after={"status": fresh.status},
        change=clockwork.cancelling(now),
    )
    event_notices.closed_silent(event)
    return fresh


@rollups.one_change
def handoff_close_unconfirmed(*, handoff: Handoff, now: datetime) -> Handoff:
    """Close a resolved handoff its requester neither confirmed nor reopened within the
    agreement's confirmation days (reminders.py decides when); the requester side is told."""
    fresh, _ = claim(handoff, "close_unconfirmed", None, now, closed_at=now)
    days = fresh.agreement.confirmation_days
    event = record(
        fresh,
        EventKind.CLOSED,
        None,
        now,
        comment=f"Closed automatically: resolution not confirmed within {days} business days.",
        before={"status": Status.RESOLVED},
        after={"status": fresh.status},
    )
    event_notices.closed_unconfirmed(event, days)
    return fresh
