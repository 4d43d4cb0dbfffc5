"""Who hears of each handoff event, and in which words: one small function per event,
called by the service that made the change, inside its transaction (the rows commit with
the change; deliveries are enqueued on commit).

Each notice is keyed by the timeline event it tells of (`handoff:<id>:event:<event id>`),
so it is created once however often it is asked for; the person who acted is never told
of their own action. The requester side is the filer and everyone watching. The provider
team's channel (its webhook) is offered the events that concern the provider side — a new
handoff, a reply, a reopening, a priority change — and hears those its leads chose.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings

from apps.accounts.models import User
from apps.notifications import services as notifications
from apps.notifications.models import Kind
from apps.teams.models import Role

from .clockwork.notices import URGENT_PRIORITIES, next_open
from .models import Handoff, HandoffEvent

# --- who hears -----------------------------------------------------------------------------


def watchers(handoff: Handoff) -> list:
    return list(User.objects.filter(watching__handoff=handoff, is_active=True))


def requester_side(handoff: Handoff) -> list:
    """The filer and everyone watching."""
    return [handoff.created_by, *watchers(handoff)]


def provider_members(handoff: Handoff) -> list:
    return list(
        User.objects.filter(
            memberships__team_id=handoff.provider_team_id, is_active=True
        ).distinct()
    )


def provider_leads(handoff: Handoff) -> list:
    return list(
        User.objects.filter(
            memberships__team_id=handoff.provider_team_id,
            memberships__role=Role.LEAD,
            is_active=True,
        ).distinct()
    )


def assignee_or_team(handoff: Handoff) -> list:
    """Whoever has it; nobody yet: the provider team's members."""
    return [handoff.assignee] if handoff.assignee_id else provider_members(handoff)


def assignee_or_leads(handoff: Handoff) -> list:
    return [handoff.assignee] if handoff.assignee_id else provider_leads(handoff)


# --- how it is said ------------------------------------------------------------------------


def url(handoff: Handoff, anchor: str = "") -> str:
    return f"{settings.SITE_URL}{handoff.get_absolute_url()}{anchor}"


def _who(event: HandoffEvent) -> str:
    return event.actor.display_name if event.actor_id else "The system"


def _tell(
    event: HandoffEvent,
    kind: str,
    people: Iterable,
    title: str,
    body: str,
    *,
    anchor: str = "",
    team=None,
    urgent: bool | None = None,
    deliver_after: datetime | None = None,
) -> list:
    """Notify `people` (less the actor) of the event. Urgent (past anyone's quiet hours)
    when the handoff is P1/P2; `team`'s channel hears it when its leads want this kind."""
    handoff = event.handoff
    if urgent is None:
        urgent = handoff.priority in URGENT_PRIORITIES
    return notifications.notify(
        kind=kind,
        title=f"#{handoff.pk} {title}",
        body=body,
        url=url(handoff, anchor),
        dedup_base=f"handoff:{handoff.pk}:event:{event.pk}",
        recipients=[p for p in people if p is not None and p.pk != event.actor_id],
        team=team,
        urgent=urgent,
        deliver_after=deliver_after,
        subject_type="handoff",
        subject_id=handoff.pk,
        now=event.created_at,
    )


def _about(handoff: Handoff) -> str:
    return (
        f"“{handoff.title}” — {handoff.get_priority_display()}, "
        f"{handoff.requesting_team} → {handoff.provider_team}."
    )


# --- one function per event ----------------------------------------------------------------


def filed(event: HandoffEvent) -> list:
    """The provider team: P1/P2 every member at once (also outside open hours) and the
    team's channel; P3/P4 the same, held until the provider calendar's next open time."""
    handoff = event.handoff
    urgent = handoff.priority in URGENT_PRIORITIES
    return _tell(
        event,
        Kind.FILED,
        provider_members(handoff),
        f"{handoff.priority} filed by {handoff.requesting_team}: {handoff.title}",
        "\n\n".join(filter(None, [_about(handoff), handoff.description])),
        team=handoff.provider_team,
        urgent=urgent,
        deliver_after=None if urgent else next_open(handoff, event.created_at),
    )


def acknowledged(event: HandoffEvent) -> list:
    handoff = event.handoff
    return _tell(
        event,
        Kind.ACKNOWLEDGED,
        requester_side(handoff),
        f"acknowledged by {_who(event)}",
        f"{handoff.provider_team} has your handoff. {_about(handoff)}",
    )


def action_plan(event: HandoffEvent) -> list:
    return _tell(
        event,
        Kind.ACTION_PLAN,
        requester_side(event.handoff),
        f"action plan from {_who(event)}",
        event.comment,
    )


def question(event: HandoffEvent) -> list:
    handoff = event.handoff
    return _tell(
        event,
        Kind.QUESTION,
        requester_side(handoff),
        f"{handoff.provider_team} needs your answer: {handoff.title}",
        event.comment,
        anchor="#reply",
    )


def replied(event: HandoffEvent) -> list:
    return _tell(
        event,
        Kind.REPLIED,
        assignee_or_team(event.handoff),
        f"{_who(event)} replied: {event.handoff.title}",
        event.comment,
        team=event.handoff.provider_team,
    )


def resolved(event: HandoffEvent) -> list:
    handoff = event.handoff
    return _tell(
        event,
        Kind.RESOLVED,
        requester_side(handoff),
        f"resolved — please confirm or reopen: {handoff.title}",
        f"{event.comment}\n\nIf this settles it, confirm and close; if not, reopen it.",
        anchor="#confirm",
    )


def reopened(event: HandoffEvent) -> list:
    handoff = event.handoff
    return _tell(
        event,
        Kind.REOPENED,
        [*assignee_or_team(handoff), *provider_leads(handoff)],
        f"reopened by {_who(event)}: {handoff.title}",
        event.comment,
        team=handoff.provider_team,
    )


def assigned(event: HandoffEvent, assignee) -> list:
    handoff = event.handoff
    return _tell(
        event,
        Kind.ASSIGNED,
        [assignee],
        f"assigned to you by {_who(event)}: {handoff.title}",
        _about(handoff),
    )


def priority_changed(event: HandoffEvent) -> list:
    handoff = event.handoff
    before, after = event.before.get("priority"), event.after.get("priority")
    return _tell(
        event,
        Kind.PRIORITY,
        [*requester_side(handoff), *assignee_or_leads(handoff)],
        f"priority {before} → {after}: {handoff.title}",
        f"{_who(event)}: {event.comment}",
        team=handoff.provider_team,
    )


def commented(event: HandoffEvent, mentioned: Iterable) -> None:
    """The people mentioned hear it as a mention; everyone else watching as a comment."""
    handoff = event.handoff
    mentioned = [p for p in mentioned if p is not None]
    said = f"{_who(event)}: {event.comment}"
    _tell(event, Kind.MENTION, mentioned, f"{_who(event)} mentioned you", said)
    named = {p.pk for p in mentioned}
    _tell(
        event,
        Kind.COMMENT,
        [p for p in watchers(handoff) if p.pk not in named],
        f"{_who(event)} commented: {handoff.title}",
        said,
    )


def confirmed(event: HandoffEvent) -> list:
    """The requester confirmed the resolution: whoever worked on it hears it held."""
    handoff = event.handoff
    return _tell(
        event,
        Kind.CLOSED,
        [*assignee_or_leads(handoff), *watchers(handoff)],
        f"resolution confirmed by {_who(event)}: {handoff.title}",
        event.comment or _about(handoff),
    )


def cancelled(event: HandoffEvent) -> list:
    """Withdrawn: both sides stop working on it (the team's channel too, if it wants)."""
    handoff = event.handoff
    return _tell(
        event,
        Kind.CLOSED,
        [*requester_side(handoff), *assignee_or_team(handoff)],
        f"cancelled by {_who(event)}: {handoff.title}",
        event.comment,
        team=handoff.provider_team,
    )


def closed_silent(event: HandoffEvent) -> list:
    """Auto-closed after the requester's silence."""
    handoff = event.handoff
    return _tell(
        event,
        Kind.CLOSED,
        requester_side(handoff),
        f"closed after no reply: {handoff.title}",
        "Closed after no reply — we're here when you need us: file it again any time "
        f"and {handoff.provider_team} picks it up.",
    )


def closed_unconfirmed(event: HandoffEvent, days: int) -> list:
    """Closed because the resolution was neither confirmed nor reopened in time."""
    handoff = event.handoff
    return _tell(
        event,
        Kind.CLOSED,
        requester_side(handoff),
        f"closed: resolution not confirmed within {days} business days",
        f"{_about(handoff)} The resolution stands; if the problem comes back, file it again.",
    )
