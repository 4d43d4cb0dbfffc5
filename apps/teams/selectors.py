"""Read queries for teams, always starting from `visible_to(user)`."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from .models import Membership, Team


def team_list(*, user):
    return Team.objects.visible_to(user).for_list()


def team_get(*, user, slug: str) -> Team:
    return get_object_or_404(Team.objects.visible_to(user).for_detail(), slug=slug)


def memberships_of(*, user):
    return (
        Membership.objects.filter(user=user)
        .select_related("team__calendar")
        .prefetch_related("team__calendar__intervals", "team__calendar__holidays")
        .order_by("team__name")
    )
