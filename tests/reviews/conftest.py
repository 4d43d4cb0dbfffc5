"""Shared fixtures for the reviews tests.

The agreement is the active Support → Engineering one of the handoff tests (standard
tiers; P1/P2 24×7, P3/P4 on Engineering's Mon-Fri 09:00-17:00 Berlin calendar), with
its first review due on 1 April 2026: the review looks at the first quarter,
`[2026-01-01, 2026-04-01)`. Handoffs are filed through the handoff services, breaches
happen by acknowledging too late, so every figure comes from real clocks.
"""

from datetime import date, timedelta

import pytest

from apps.agreements.models import Agreement
from apps.agreements.models import Status as AgreementStatus
from apps.handoffs import services as handoff_services
from apps.handoffs.models import Clock
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.teams.models import Role
from tests.factories import AgreementFactory, MembershipFactory, UserFactory
from tests.helpers import MONDAY_10, TRIAGE, berlin

# The first quarter of 2026 and its review, due the day the period ends.
PERIOD_START = date(2026, 1, 1)
PERIOD_END = date(2026, 4, 1)
DUE = PERIOD_END
# The review meeting, on the day it is due: the first day after the period, when a review
# can start (its figures are complete) and be signed.
REVIEW_DAY = berlin(2026, 4, 1, 11, 0)


# Overrides tests/conftest.py's `agreement`: the same agreement, with a review date.
@pytest.fixture
def agreement(provider_team, requesting_team):
    """Active Support → Engineering agreement, quarterly review, first due on 1 April."""
    return AgreementFactory(
        series__provider_team=provider_team,
        series__requesting_team=requesting_team,
        next_review_date=DUE,
    )


def active_version(series_id: int) -> Agreement:
    return Agreement.objects.get(series_id=series_id, status=AgreementStatus.ACTIVE)


# Overrides tests/conftest.py's `file_handoff`: a review makes a new version, so filing
# follows the series (and takes a `title` or `agreement`), not the fixture's version.
@pytest.fixture
def file_handoff(agreement, requester):
    """File a handoff as Rita under the version of the series in force *now* (as the pages
    do): after a review creates the next version, new handoffs bind to it."""

    def file(priority="P3", at=MONDAY_10, **extra):
        return handoff_services.handoff_create(
            actor=requester,
            agreement=extra.pop("agreement", None) or active_version(agreement.series_id),
            title=extra.pop("title", "Checkout crashes"),
            priority=priority,
            triage=extra.pop("triage", TRIAGE),
            now=at,
            **extra,
        )

    return file


@pytest.fixture
def breached_clock(file_handoff, provider_member):
    """Make a breached clock the real way: file a handoff, acknowledge it too late.

    `breached_clock()` files a P1 (acknowledge within 30 min, 24×7) at MONDAY_10 and has
    Max acknowledge it an hour later; returns the acknowledge clock (status breached,
    breached_at = when the 30 minutes ran out)."""

    def make(priority="P1", at=MONDAY_10, late=timedelta(hours=1), **extra) -> Clock:
        handoff = file_handoff(priority, at=at, **extra)
        handoff_services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=at + late)
        clock = Clock.objects.select_related("handoff").get(handoff=handoff, metric="acknowledge")
        assert clock.breached_at is not None, "acknowledged in time: give a later `late`"
        return clock

    return make


@pytest.fixture
def review(agreement):
    """The scheduled first-quarter review of the agreement (as the daily task creates it)."""
    return QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        due_date=DUE,
        status=ReviewStatus.SCHEDULED,
    )


@pytest.fixture
def started_review(review, provider_lead):
    """The review started by Lena on REVIEW_DAY: pack and recommendations frozen, proposed
    targets = the agreement's current ones."""
    from apps.reviews import services

    return services.review_start(review=review, actor=provider_lead, now=REVIEW_DAY)


@pytest.fixture
def dual_lead(provider_team, requesting_team):
    """Dana leads both teams: she signs (and approves) both sides at once."""
    user = UserFactory(username="dana")
    MembershipFactory(team=provider_team, user=user, role=Role.LEAD)
    MembershipFactory(team=requesting_team, user=user, role=Role.LEAD)
    return user
