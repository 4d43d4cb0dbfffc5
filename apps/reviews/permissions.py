"""Who may do what on reviews: see, edit and sign a quarterly review, review a breach,
manage and tick off action items. The services check these again under their locks; the
pages and the API ask them to decide what to offer."""

from __future__ import annotations

from collections.abc import Iterable

from apps.handoffs.models import Clock
from apps.teams.models import Role, Team

from .models import ActionItem, BreachReview, QuarterlyReview


def team_ids_of(user, team_ids: Iterable[int], *, lead: bool) -> set[int]:
    if not user.is_authenticated:
        return set()
    memberships = user.memberships.filter(team_id__in=list(team_ids))
    if lead:
        memberships = memberships.filter(role=Role.LEAD)
    return set(memberships.values_list("team_id", flat=True))


def review_teams(review: QuarterlyReview) -> tuple[Team, Team]:
    return review.series.provider_team, review.series.requesting_team


def can_see_review(user, review: QuarterlyReview) -> bool:
    """Members of either team (and staff) see a review, as `visible_to` says."""
    if user.is_authenticated and user.is_staff:
        return True
    series = review.series
    return bool(team_ids_of(user, (series.provider_team_id, series.requesting_team_id), lead=False))


def can_edit_review(user, review: QuarterlyReview) -> bool:
    """Leads of either team start, edit and sign a review. Staff administer reviews in the
    admin; they do not write the teams' findings or agree targets for them."""
    series = review.series
    return bool(team_ids_of(user, (series.provider_team_id, series.requesting_team_id), lead=True))


def sides_to_sign(user, review: QuarterlyReview) -> list[Team]:
    """The sides this user may still sign: each team they lead that has not signed (a
    person leading both teams signs both at once, as with agreement approvals)."""
    signed = {s.team_id for s in review.sign_offs.all()}
    teams = review_teams(review)
    led = team_ids_of(user, [t.pk for t in teams], lead=True)
    return [team for team in teams if team.pk in led and team.pk not in signed]


def can_review_breach(user, clock: Clock) -> bool:
    """Members (and leads) of the provider team write the breach review of their clock;
    the requesting team reads it."""
    return bool(team_ids_of(user, [clock.handoff.provider_team_id], lead=False))


def can_manage_action_items(
    user, *, review: QuarterlyReview | None = None, breach_review: BreachReview | None = None
) -> bool:
    """Who adds (and ticks off) action items: leads of either team for a quarterly review,
    provider-team members for a breach review."""
    if review is not None:
        return can_edit_review(user, review)
    if breach_review is not None:
        return can_review_breach(user, breach_review.clock)
    return False


def can_set_done(user, item: ActionItem) -> bool:
    """The owner ticks off their own item; so may whoever manages the parent's items."""
    return (user.is_authenticated and item.owner_id == user.pk) or can_manage_action_items(
        user, review=item.review, breach_review=item.breach_review
    )
