"""Who may do what to an agreement version or an exception window (the services ask
again under their locks; views and the API ask first, to refuse before reading a body)."""

from __future__ import annotations

from apps.teams.models import Role, Team

from ..models import Agreement, ExceptionWindow


def is_lead_of(user, team: Team) -> bool:
    return user.is_authenticated and team.memberships.filter(user=user, role=Role.LEAD).exists()


def can_edit(user, agreement: Agreement) -> bool:
    """Leads of either team edit, submit and withdraw versions (staff too)."""
    return user.is_staff or any(
        is_lead_of(user, team) for team in (agreement.provider_team, agreement.requesting_team)
    )


def sides_to_approve(user, agreement: Agreement) -> list[Team]:
    """The sides this user may still approve: each team they lead that has not approved."""
    approved = {a.team_id for a in agreement.approvals.all()}
    return [
        team
        for team in (agreement.provider_team, agreement.requesting_team)
        if team.pk not in approved and is_lead_of(user, team)
    ]


def can_decide_window(user, window: ExceptionWindow) -> bool:
    """Leads of the provider team and staff approve or refuse windows (and end them)."""
    return user.is_staff or is_lead_of(user, window.provider_team)


def can_approve_window(user, window: ExceptionWindow) -> bool:
    """A second person approves: a deciding lead other than the requester, or staff."""
    return can_decide_window(user, window) and (user.is_staff or window.requested_by_id != user.pk)


def can_end_window(user, window: ExceptionWindow) -> bool:
    """Who may decide on a window may end it early, and so may whoever asked for it."""
    return window.requested_by_id == user.pk or can_decide_window(user, window)
