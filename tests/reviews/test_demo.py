"""`seed_demo` gives the Support → Engineering agreement a review history that says
something: the current quarter's review recommends loosening some targets, tightening
others and keeping the rest, from real volume in every priority; two past reviews were
signed by both leads (one version relaxed by a review, the next restoring the targets of
the domain reading); breach reviews cover most past breaches, and running it again
changes nothing."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from apps.agreements.demo import ESCALATION_TARGETS
from apps.agreements.models import Agreement
from apps.handoffs.models import Clock
from apps.reviews.models import (
    ActionItem,
    BreachReview,
    QuarterlyReview,
    ReviewSignOff,
    ReviewStatus,
)

pytestmark = pytest.mark.django_db

TITLE = "Support → Engineering escalations"


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (QuarterlyReview, ReviewSignOff, BreachReview, ActionItem, Agreement, Clock)
    }


def test_seed_demo_gives_the_current_review_meaningful_recommendations():
    call_command("seed_demo", stdout=StringIO())
    first = counts()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first

    past, middle, current = QuarterlyReview.objects.filter(agreement__title=TITLE).order_by(
        "period_start"
    )
    # Three consecutive quarters.
    assert past.period_end == middle.period_start and middle.period_end == current.period_start

    # The current review: started, pack frozen, a recommendation of each kind.
    assert current.status == ReviewStatus.IN_PROGRESS
    rows = current.pack["period"]["rows"]
    volume = Counter()
    for row in rows:
        volume[row["priority"]] += row["volume"]
    assert set(volume) == {"P1", "P2", "P3", "P4"} and all(volume.values())

    recommendations = current.recommendations
    loosen = [
        r
        for r in recommendations
        if r["basis"] == "p80" and r["recommended_seconds"] > r["current_seconds"]
    ]
    tighten = [r for r in recommendations if r["basis"] == "tighten"]
    keep = [r for r in recommendations if r["basis"] == "keep"]
    assert loosen and tighten and keep, [(r["basis"], r["reason"]) for r in recommendations]
    # The three-month streak behind a tightening is in the pack.
    for r in tighten:
        streak = [
            next(
                x["met_pct"]
                for x in period["rows"]
                if (x["priority"], x["metric"]) == (r["priority"], r["metric"])
            )
            for period in current.pack["history"]
        ]
        assert len(streak) == 3 and min(streak) >= 95
    # The leads adopted the tightening of the P1 acknowledgement in their proposal.
    p1_ack = next(r for r in tighten if (r["priority"], r["metric"]) == ("P1", "acknowledge"))
    assert current.proposed_targets["P1"]["acknowledge"] == p1_ack["recommended_seconds"]
    assert current.action_items.exists()

    # The two past reviews: signed by both leads, each creating a version.
    for review in (past, middle):
        assert review.status == ReviewStatus.COMPLETED
        assert {(s.team.slug, s.user.username) for s in review.sign_offs.all()} == {
            ("engineering", "erin"),
            ("support", "sasha"),
        }
        assert review.resulting_agreement is not None
    assert past.resulting_agreement.target_for("P3").resolve_seconds == 96 * 3600
    active = Agreement.objects.get(title=TITLE, status="active")
    assert active == middle.resulting_agreement == current.agreement
    assert [
        {
            "priority": t.priority,
            "acknowledge_seconds": t.acknowledge_seconds,
            "action_plan_seconds": t.action_plan_seconds,
            "resolve_seconds": t.resolve_seconds,
            "around_the_clock": t.around_the_clock,
        }
        for t in active.targets.order_by("priority")
    ] == [
        {key: t[key] for key in ("priority", "acknowledge_seconds", "action_plan_seconds",
                                 "resolve_seconds", "around_the_clock")}
        for t in ESCALATION_TARGETS
    ]  # fmt: skip

    # Most past breaches are reviewed, for varied causes; the newest wait for review.
    breached = Clock.objects.filter(breached_at__isnull=False, handoff__agreement__title=TITLE)
    reviewed = BreachReview.objects.filter(clock__in=breached)
    assert 0 < reviewed.count() < breached.count()
    assert len(set(reviewed.values_list("root_cause", flat=True))) >= 4
    assert ActionItem.objects.filter(breach_review__isnull=False).exists()
    assert sum(current.pack["period"]["breach_causes"].values()) > 0
