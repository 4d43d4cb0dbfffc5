"""Who hears about a clock, and how what one clock has to say in one go reaches them: one
notification per person listing every notice (simultaneous steps arrive as one), the
team's channel once, non-urgent notices held until the provider team's open hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Q

from apps.accounts.models import User
from apps.agreements.models import Notify
from apps.notifications import services as notifications
from apps.teams.models import Membership, Role

from ..models import Clock, Handoff

SEVERITY = {"warning": 0, "escalation": 1, "breach": 2}
URGENT_PRIORITIES = ("P1", "P2")
# Roles a ladder step may name, resolved on the team when the step fires (with the
# team's own fallback when a role is empty: Team.escalation_contacts).
ROLE_STEPS = {
    "provider_manager": ("provider", "manager"),
    "provider_director": ("provider", "director"),
    "requesting_manager": ("requesting", "manager"),
    "requesting_director": ("requesting", "director"),
}


# --- who hears -----------------------------------------------------------------------------


def recipients(handoff: Handoff, notify: str, user=None, memo: dict | None = None) -> list:
    """The people a ladder step (or the default warning and breach) speaks to. `memo` (a
    sweep's batch) keeps who a step naming a team or a role reaches, by step and teams."""
    if notify == Notify.USER:
        return [user] if user else []
    if notify == Notify.ASSIGNEE and handoff.assignee_id:
        return [handoff.assignee]
    if memo is None:
        return _reached(handoff, notify)
    key = (notify, handoff.provider_team_id, handoff.requesting_team_id)
    if key not in memo:
        memo[key] = _reached(handoff, notify)
    return memo[key]


def _reached(handoff: Handoff, notify: str) -> list:
    """Who a step naming a team, its leads or a role reaches (a query or two)."""

    def leads(team_id):
        return Q(memberships__team_id=team_id, memberships__role=Role.LEAD)

    if notify in (Notify.ASSIGNEE, Notify.PROVIDER_TEAM):
        # Nobody has it yet: the whole provider team hears about it.
        ids = Membership.objects.filter(team_id=handoff.provider_team_id).values("user_id")
        return list(User.objects.filter(pk__in=ids))
    if notify in ROLE_STEPS:
        side, role = ROLE_STEPS[notify]
        team = handoff.provider_team if side == "provider" else handoff.requesting_team
        return list(team.escalation_contacts(role))
    condition = {
        Notify.PROVIDER_LEAD: leads(handoff.provider_team_id),
        Notify.REQUESTING_LEAD: leads(handoff.requesting_team_id),
        Notify.BOTH_LEADS: leads(handoff.provider_team_id) | leads(handoff.requesting_team_id),
    }[notify]
    return list(User.objects.filter(condition).distinct())


@dataclass
class Notice:
    kind: str  # notification kind: warning | breach | escalation
    percent: int
    title: str
    recipients: list
    team: object | None
    urgent: bool


@dataclass
class Outbox:
    """What one clock has to say in one go; sent as one notification per person."""

    handoff: Handoff
    clock: Clock
    notices: list[Notice] = field(default_factory=list)

    def add(self, notice: Notice) -> None:
        self.notices.append(notice)

    def send(self, now: datetime) -> None:
        for delivery in self.deliveries(now):
            notifications.notify(**delivery, now=now)

    def deliveries(self, now: datetime, opens: dict | None = None) -> list[dict]:
        """What `send` notifies: notify()'s arguments but `now`, one dict a call; empties
        the outbox. `opens` keeps each calendar's next open hours (a sweep's batch)."""
        if not self.notices:
            return []
        handoff, clock = self.handoff, self.clock
        tag = "+".join(f"{n.kind}{n.percent}" for n in self.notices)
        if clock.breached_at is not None and any(n.kind == "breach" for n in self.notices):
            # A breach withdrawn and recorded again is a new breach: its own key.
            tag += f"@{int(clock.breached_at.timestamp())}"
        base = f"handoff:{handoff.pk}:clock:{clock.metric}:fire:{tag}"
        by_person: dict[int, list[Notice]] = {}
        people = {}
        for notice in self.notices:
            for person in notice.recipients:
                if person is None:
                    continue
                people[person.pk] = person
                by_person.setdefault(person.pk, [])
                if notice not in by_person[person.pk]:
                    by_person[person.pk].append(notice)
        groups: dict[tuple[int, ...], list] = {}
        for pk, notices in by_person.items():
            groups.setdefault(tuple(id(n) for n in notices), []).append(people[pk])
        out = []
        for key, persons in groups.items():
            notices = [n for n in self.notices if id(n) in key]
            out.append(_delivery(handoff, notices, persons, None, base, now, opens))
        team_notices = [n for n in self.notices if n.team is not None]
        if team_notices:
            out.append(_delivery(handoff, team_notices, [], team_notices[0].team, base, now, opens))
        self.notices = []
        return out


def _delivery(handoff, notices: list[Notice], persons, team, base: str, now, opens) -> dict:
    top = max(notices, key=lambda n: SEVERITY[n.kind])
    urgent = any(n.urgent for n in notices)
    title = top.title if len(notices) == 1 else f"{top.title} (+{len(notices) - 1} more)"
    lines = [n.title for n in notices] if len(notices) > 1 else []
    summary = (
        f"{handoff.title} — {handoff.get_priority_display()}, "
        f"{handoff.requesting_team} → {handoff.provider_team}."
    )
    if urgent:
        after = None
    elif opens is None:
        after = next_open(handoff, now)
    else:
        calendar = handoff.provider_team.calendar_id
        if calendar not in opens:
            opens[calendar] = next_open(handoff, now)
        after = opens[calendar]
    return {
        "kind": top.kind,
        "title": title,
        "body": "\n".join([*lines, summary]),
        "url": f"{settings.SITE_URL}{handoff.get_absolute_url()}",
        "dedup_base": base,
        "recipients": persons,
        "team": team,
        "urgent": urgent,
        "deliver_after": after,
        "subject_type": "handoff",
        "subject_id": handoff.pk,
    }


def next_open(handoff: Handoff, now: datetime) -> datetime | None:
    """Non-urgent notices wait for the provider team's next open hours (the clocks' warnings
    and the handoff event notices alike)."""
    periods = handoff.provider_team.calendar.open_periods(now, days=14)
    if periods and periods[0][0] > now:
        return periods[0][0]
    return None
