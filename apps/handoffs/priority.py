"""A handoff's priority: changed by either team (with a reason), or raised one level by the
escalation ladder. The clocks keep the time they consumed and take the new targets; both
sides are told."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError

from apps.agreements.models import Priority
from apps.core.exceptions import Conflict

from . import event_notices
from .clockwork import rollups
from .clockwork import services as clockwork
from .models import Clock, EventKind, Handoff
from .permissions import may
from .transitions import moved, now_or, raised


@rollups.one_change
def handoff_change_priority(
    *,
    handoff: Handoff,
    actor,
    priority: str,
    reason: str,
    now: datetime | None = None,
    system: bool = False,
) -> Handoff:
    """Change the priority: clocks keep their consumed time and take the new targets (a
    breach already run into is recorded and kept); the ladder is re-based on them."""
    now = now_or(now)
    if not system and not may(actor, handoff, "priority"):
        raise PermissionDenied("Only the two teams change a handoff's priority.")
    fresh = (
        Handoff.objects.select_for_update(no_key=True, of=("self",))
        .select_related("agreement", "provider_team__calendar", "requesting_team", "assignee")
        .get(pk=handoff.pk)
    )
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
    fresh.priority = priority
    fresh.updated_at = now
    fresh.save(update_fields=["priority", "updated_at"])
    # Every clock, finished ones too: reports count a handoff under its priority now.
    Clock.objects.filter(handoff=fresh).update(priority=priority)
    event = moved(
        fresh,
        EventKind.PRIORITY,
        actor,
        now,
        comment=reason.strip(),
        before={"priority": before},
        after={"priority": priority},
        change=clockwork.retargeting(target, now),
    )
    event_notices.priority_changed(event)
    return fresh


def handoff_raise_priority(*, handoff: Handoff, now: datetime) -> bool:
    """The escalation ladder raises the priority one level (to the next the agreement
    defines); False when there is none higher."""
    defined = {t.priority for t in handoff.agreement.targets.all()}
    higher = raised(handoff.priority, defined)
    if higher is None:
        return False
    handoff_change_priority(
        handoff=handoff,
        actor=None,
        priority=higher,
        reason="Escalation ladder: a target passed a step that raises the priority.",
        now=now,
        system=True,
    )
    return True
