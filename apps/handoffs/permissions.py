"""Who may act on a handoff: the side of the agreement an action belongs to, and the
responsibilities the agreement version assigns (initial response, triage and the action
plan, updates, validation of the resolution), enforced here for pages, API and admin
alike (every service checks through `check`).

A responsibility names a party: a team of the agreement, or that team's leads. Staff act
as anyone (the admin's escape hatch), and the timeline records in which role each person
acted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from apps.agreements.models import Party
from apps.teams.models import Role

from .models import ClockStatus, Handoff, Status

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
    "close_unconfirmed": "system",
    "assign": "provider",
    "priority": "either",
    "comment": "either",
}

# The agreement field that names who carries the responsibility for an action.
RESPONSIBILITY = {
    "acknowledge": "initial_response_by",
    "action_plan": "triage_by",
    "wait": "updates_by",
    "close": "resolution_validated_by",
}
DUTY_WORDS = {
    "initial_response_by": "gives the initial response",
    "triage_by": "triages and posts the action plan",
    "updates_by": "sends the updates",
    "resolution_validated_by": "validates the resolution",
}
PARTY_WORDS = {
    Party.PROVIDER_TEAM: "the provider team",
    Party.PROVIDER_LEAD: "the provider team's lead",
    Party.REQUESTING_TEAM: "the requesting team",
    Party.REQUESTING_LEAD: "the requesting team's lead",
}


@dataclass(frozen=True)
class Standing:
    """A person's standing on one handoff: the sides they are on and where they lead."""

    staff: bool
    provider: bool
    requester: bool
    provider_lead: bool
    requesting_lead: bool

    @property
    def sides(self) -> set[str]:
        sides = set()
        if self.staff or self.provider:
            sides.add("provider")
        if self.staff or self.requester:
            sides.add("requester")
        return sides

    def is_party(self, party: str) -> bool:
        return self.staff or {
            Party.PROVIDER_TEAM: self.provider,
            Party.PROVIDER_LEAD: self.provider_lead,
            Party.REQUESTING_TEAM: self.requester,
            Party.REQUESTING_LEAD: self.requesting_lead,
        }.get(party, False)

    def role(self, handoff: Handoff) -> str:
        """How the timeline names the role someone acted in."""
        if self.provider_lead:
            return "provider lead"
        if self.provider:
            return "provider team"
        if self.requesting_lead:
            return "requesting lead"
        if self.requester:
            return "requesting team"
        return "staff" if self.staff else ""


NOBODY = Standing(False, False, False, False, False)


_remembered: ContextVar[dict | None] = ContextVar("handoff_standings", default=None)


@contextmanager
def one_lookup() -> Iterator[None]:
    """Inside the block, each person's standing on each pair of teams is read once: a page
    that asks `may`, `is_provider` and `available_actions` runs one membership query.
    Outside it (services, the API) every question reads the memberships afresh."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def standing(user, handoff: Handoff) -> Standing:
    """The user's standing on the handoff, in one query (staff count as everything)."""
    if user is None or not user.is_authenticated:
        return NOBODY
    memo = _remembered.get()
    if memo is None:
        return _standing(user, handoff)
    key = (user.pk, user.is_staff, handoff.provider_team_id, handoff.requesting_team_id)
    if key not in memo:
        memo[key] = _standing(user, handoff)
    return memo[key]


def remember_roles(user, handoff: Handoff, provider_role, requesting_role) -> None:
    """Inside `one_lookup`: the user's roles in the handoff's two teams (None: not a
    member) were read with the handoff (`selectors.handoff_get`), so its standing needs no
    membership query of its own."""
    memo = _remembered.get()
    if memo is None or user is None or not user.is_authenticated:
        return
    key = (user.pk, user.is_staff, handoff.provider_team_id, handoff.requesting_team_id)
    memo[key] = Standing(
        staff=user.is_staff,
        provider=provider_role is not None,
        requester=requesting_role is not None,
        provider_lead=provider_role == Role.LEAD,
        requesting_lead=requesting_role == Role.LEAD,
    )


def _standing(user, handoff: Handoff) -> Standing:
    rows = list(
        user.memberships.filter(
            team_id__in=[handoff.provider_team_id, handoff.requesting_team_id]
        ).values_list("team_id", "role")
    )
    provider = [role for team, role in rows if team == handoff.provider_team_id]
    requesting = [role for team, role in rows if team == handoff.requesting_team_id]
    return Standing(
        staff=user.is_staff,
        provider=bool(provider),
        requester=bool(requesting),
        provider_lead=Role.LEAD in provider,
        requesting_lead=Role.LEAD in requesting,
    )


def _duty(action: str, handoff: Handoff) -> str | None:
    """The responsibility field governing `action` on this handoff now, if any."""
    if action in ("start", "action_plan") and handoff.status == Status.NEW:
        # Starting or planning a new handoff is also its initial response.
        return "initial_response_by" if action == "start" else "triage_by"
    return RESPONSIBILITY.get(action)


def refusal(who: Standing, handoff: Handoff, action: str) -> str | None:
    """Why `who` may not take `action` on the handoff (None: they may)."""
    side = ALLOWED_SIDE[action]
    if side == "system":
        return "Only the system does that."
    sides = who.sides
    if not sides or (side != "either" and side not in sides):
        return "You are not on a team that may do that on this handoff."
    agreement = handoff.agreement
    duties = [_duty(action, handoff)]
    if action == "action_plan" and handoff.status == Status.NEW:
        duties.append("initial_response_by")
    if action == "comment" and not who.requester:
        duties = ["updates_by"]  # the provider's comments are its updates
    elif action == "comment":
        duties = []
    if action == "resume" and not who.requester:
        duties = ["updates_by"]
    for duty in duties:
        if duty is None:
            continue
        party = getattr(agreement, duty)
        if not who.is_party(party):
            return (
                f"This agreement says {PARTY_WORDS.get(party, party)} {DUTY_WORDS[duty]}; "
                "you are not among them."
            )
    return None


def check(user, handoff: Handoff, action: str) -> Standing:
    """Raise PermissionDenied unless the user may take `action`; their standing."""
    who = standing(user, handoff)
    reason = refusal(who, handoff, action)
    if reason:
        raise PermissionDenied(reason)
    return who


def may(user, handoff: Handoff, action: str) -> bool:
    return refusal(standing(user, handoff), handoff, action) is None


def is_provider(user, handoff: Handoff) -> bool:
    return "provider" in standing(user, handoff).sides


def is_requester(user, handoff: Handoff) -> bool:
    return "requester" in standing(user, handoff).sides


def available_actions(user, handoff: Handoff, transitions: dict) -> set[str]:
    """The actions this user may take on the handoff in its current status."""
    who = standing(user, handoff)
    actions = {
        action
        for action, (sources, _) in transitions.items()
        if handoff.status in sources and refusal(who, handoff, action) is None
    }
    if handoff.is_open:
        actions |= {a for a in ("assign", "priority") if refusal(who, handoff, a) is None}
    if refusal(who, handoff, "comment") is None:
        actions.add("comment")
    plan = handoff.clock("action_plan")
    if (
        "action_plan" in actions
        and plan is not None
        and plan.status in (ClockStatus.MET, ClockStatus.BREACHED)
    ):
        # A second plan is an update: post it as a comment.
        actions.discard("action_plan")
    return actions
