"""Read queries for reviews. Every one starts from what the user may see, and carries the
`select_related`/`prefetch_related` its list shows, so a page costs the same number of
queries whatever its length."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from apps.handoffs.clockwork.verdict import recorded_breach_q
from apps.handoffs.models import Clock
from apps.teams.models import Team

from .filters import QuarterlyReviewFilter
from .models import ActionItem, QuarterlyReview, ReviewSignOff


def _sign_offs() -> Prefetch:
    return Prefetch("sign_offs", queryset=ReviewSignOff.objects.select_related("team", "user"))


def review_list(*, user, filters=None, request=None) -> QuarterlyReviewFilter:
    """The reviews the user may see (members of either team, staff), soonest due first
    among the open ones, filtered; `.qs` has the teams, the version and the sign-offs."""
    queryset = (
        QuarterlyReview.objects.visible_to(user)
        .select_related(
            "series__provider_team",
            "series__requesting_team",
            "agreement",
            "resulting_agreement",
        )
        .prefetch_related(_sign_offs())
        .order_by("-due_date", "-pk")
    )
    return QuarterlyReviewFilter(filters or {}, queryset=queryset, request=request)


def review_get(*, user, pk: int) -> QuarterlyReview:
    """One review for its page or the API; a 404 for anyone who may not see it."""
    queryset = (
        QuarterlyReview.objects.visible_to(user)
        .select_related(
            "series__provider_team",
            "series__requesting_team",
            "agreement__calendar",
            "resulting_agreement",
            "started_by",
        )
        .prefetch_related(
            _sign_offs(),
            "agreement__targets",
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.select_related("owner", "created_by"),
            ),
        )
    )
    return get_object_or_404(queryset, pk=pk)


def breaches_to_review(*, user, team: Team | None = None) -> QuerySet[Clock]:
    """Breached clocks of handoffs the user's team(s) provide that nobody has reviewed
    yet, newest breach first, with what a list row shows (the handoff, its teams, its
    assignee, the version). Staff see every team's."""
    if not user.is_authenticated:
        return Clock.objects.none()
    # Breaches on record (the one verdict's), not withdrawn, not reviewed yet.
    clocks = Clock.objects.filter(recorded_breach_q(), breach_review__isnull=True)
    if not user.is_staff:
        clocks = clocks.filter(
            handoff__provider_team__in=Team.objects.filter(memberships__user=user).values("pk")
        )
    if team is not None:
        clocks = clocks.filter(handoff__provider_team=team)
    return clocks.select_related(
        "handoff__provider_team",
        "handoff__requesting_team",
        "handoff__assignee",
        "handoff__agreement",
    ).order_by("-breached_at", "-pk")


def provider_teams(user):
    """The teams whose breaches the user reviews: those they belong to (staff: any) that
    provide work under an agreement."""
    teams = Team.objects.all() if user.is_staff else Team.objects.of_member(user)
    return Team.objects.filter(pk__in=teams.filter(provided_agreements__isnull=False).values("pk"))
