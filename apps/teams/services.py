"""State changes of teams and memberships."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from apps.calendars.models import BusinessCalendar

from .models import Membership, Role, Team


@transaction.atomic
def team_create(
    *,
    name: str,
    calendar: BusinessCalendar,
    slug: str = "",
    email: str = "",
    webhook_url: str = "",
    description: str = "",
) -> Team:
    """Create a team; the slug defaults to the name's."""
    team = Team(
        name=name,
        slug=slug or slugify(name),
        email=email,
        webhook_url=webhook_url,
        description=description,
        calendar=calendar,
    )
    team.full_clean()
    team.save()
    return team


@transaction.atomic
def membership_set(*, team: Team, user, role: str = Role.MEMBER) -> Membership:
    """Make `user` a member of `team` with `role` (one membership per user and team)."""
    membership, _ = Membership.objects.update_or_create(
        team=team, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def membership_remove(*, team: Team, user) -> None:
    """Remove `user` from `team`."""
    Membership.objects.filter(team=team, user=user).delete()
