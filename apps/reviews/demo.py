"""Demo reviews of the Support → Engineering agreement: two past quarters reviewed and
signed, the current quarter's review under way, and breach reviews for most of the past
breaches (the newest left "to review").

The story the history tells (see `apps.handoffs.demo`): in late spring Engineering lost
two engineers and P3 resolutions breached often, so the review of that quarter relaxed the
P3 resolve target for a while (a version created by the review); once the positions were
filled, the next review restored it (another version, with the targets of the domain
reading again). In the current quarter P1 and P2 acknowledgements are always fast, P3
acknowledgements far faster than promised and P2 fixes wait for the release train: the
recommendations say tighten, tighten and loosen.

Everything goes through the services with `now` set to the simulated moment. The one
exception is the first past review's row: the daily task creates a review from the
series' latest one (or from the agreement's next review date, which activation sets in
the future), so the oldest one is written as that task would have written it had the
portal been running then; every later one is created by the task itself.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from apps.agreements.models import Agreement
from apps.agreements.models import Status as AgreementStatus
from apps.handoffs.models import Clock

from . import services
from .models import QuarterlyReview, ReviewStatus

HOUR = 3600
# The current review is due on the day of the seed: its period has just ended (a review
# starts once its figures are complete), and the leads are in the meeting.
DUE_IN_DAYS = 0
# Breaches newer than this are left to review; of the older ones, this share is reviewed.
TO_REVIEW_DAYS = 10
REVIEWED_SHARE = 0.7

CAUSE_TEXT = {
    "capacity": (
        "Two engineers out and the queue above 40 open escalations; nobody picked it up in time.",
        "Hiring freeze: the team could not keep up with the spring volume.",
    ),
    "skills": (
        "Only one engineer knew the billing service; they were on leave.",
        "The assignee had not worked on the SSO integration before and lost a day.",
    ),
    "process": (
        "The fix was ready but waited for the fortnightly release train.",
        "Handed back and forth between two squads before an owner was set.",
    ),
    "systems": (
        "The paging integration dropped the alert; nobody was notified.",
        "Staging was down for two days, so the fix could not be verified.",
    ),
    "customer": (
        "The customer took days to confirm the workaround before we could close it.",
        "Waiting for logs from the customer's admin, who was travelling.",
    ),
    "other": ("Public holiday in Berlin not covered by the rota.",),
}
PREVENTION = {
    "capacity": "Backfill the open positions; cap work in progress per engineer.",
    "skills": "Pair on the billing service; write the runbook.",
    "process": "A hotfix lane for P1/P2 fixes outside the release train.",
    "systems": "Monitor the paging integration itself; alert on dropped pages.",
    "customer": "Agree a reply time with the customer when we ask for information.",
    "other": "Rota covers regional holidays.",
}


def _at(day: date, hour: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(tz))


def _cause(rng: random.Random, clock: Clock, crunch: bool) -> str:
    priority, metric = clock.handoff.priority, clock.metric
    if crunch and priority == "P3":
        weights = {"capacity": 6, "skills": 1, "process": 1, "customer": 1}
    elif priority == "P2" and metric == "resolve":
        weights = {"process": 5, "systems": 2, "capacity": 1, "customer": 1}
    elif metric == "acknowledge":
        weights = {"capacity": 3, "systems": 2, "other": 1}
    else:
        weights = {"capacity": 2, "skills": 2, "process": 2, "systems": 1, "customer": 2}
    causes = list(weights)
    return rng.choices(causes, weights=[weights[c] for c in causes])[0]


def _breach_reviews(rng, series, users, *, now, crunch: tuple[datetime, datetime]) -> int:
    """Review most breaches older than TO_REVIEW_DAYS, as the engineer who had it would."""
    reviewers = [users["erin"], users["eli"], users["emma"]]
    clocks = (
        Clock.objects.filter(
            handoff__agreement__series=series,
            breached_at__isnull=False,
            breached_at__lt=now - timedelta(days=TO_REVIEW_DAYS),
            breach_review__isnull=True,
        )
        .select_related("handoff")
        .order_by("breached_at", "pk")
    )
    done = 0
    for index, clock in enumerate(clocks):
        if rng.random() >= REVIEWED_SHARE:
            continue
        when = min(clock.breached_at + timedelta(hours=rng.randint(20, 72)), now)
        in_crunch = crunch[0] <= clock.handoff.created_at < crunch[1]
        cause = _cause(rng, clock, in_crunch)
        assignee = clock.handoff.assignee
        actor = assignee if assignee in reviewers else rng.choice(reviewers)
        review = services.breach_review_save(
            clock=clock,
            actor=actor,
            root_cause=cause,
            what_happened=rng.choice(CAUSE_TEXT[cause]),
            prevention=PREVENTION[cause] if rng.random() < 0.8 else "",
            now=when,
        )
        done += 1
        if index % 7 == 0:
            due = when.date() + timedelta(days=14)
            item = services.action_item_create(
                actor=actor,
                title=PREVENTION[cause].split(";")[0].rstrip("."),
                owner=rng.choice(reviewers),
                due_date=due,
                breach_review=review,
                now=when,
            )
            if due < now.date():  # the past ones were done in time
                services.action_item_set_done(
                    item=item, actor=item.owner, done=True, now=when + timedelta(days=10)
                )
    return done


def _recommended(review: QuarterlyReview, priority: str, metric: str) -> int | None:
    for row in review.recommendations:
        if (row["priority"], row["metric"]) == (priority, metric):
            return row["recommended_seconds"]
    return None


def _past_review(
    review: QuarterlyReview,
    *,
    lead,
    other_lead,
    tz: str,
    findings: str,
    decisions: str,
    targets: dict,
    actions: list[tuple],
) -> QuarterlyReview:
    """Run a past review from start to both sign-offs on the day it was due: the first day
    after its period, when its figures were complete."""
    due = review.due_date
    started = _at(due, 9, tz)
    review = services.review_start(review=review, actor=lead, now=started)
    meeting = _at(due, 11, tz)
    review = services.review_update(
        review=review,
        actor=lead,
        findings=findings,
        decisions=decisions,
        proposed_targets=targets,
        now=meeting,
    )
    for title, owner, days, done_after in actions:
        item = services.action_item_create(
            actor=lead,
            title=title,
            owner=owner,
            due_date=due + timedelta(days=days),
            review=review,
            now=meeting,
        )
        if done_after is not None:
            services.action_item_set_done(
                item=item, actor=owner, done=True, now=meeting + timedelta(days=done_after)
            )
    services.review_sign_off(
        review=review,
        actor=lead,
        comment="Agreed in the meeting.",
        now=_at(due, 15, tz),
    )
    return services.review_sign_off(review=review, actor=other_lead, now=_at(due, 16, tz))


def seed(*, context: dict, stdout) -> None:
    teams, users = context["teams"], context["users"]
    agreement = (
        Agreement.objects.filter(
            series__provider_team=teams["engineering"],
            series__requesting_team=teams["support"],
            status=AgreementStatus.ACTIVE,
        )
        .select_related("series", "calendar")
        .first()
    )
    if agreement is None:
        return
    series = agreement.series
    if QuarterlyReview.objects.filter(series=series).exists():
        return
    if not Clock.objects.filter(handoff__agreement__series=series).exists():
        return  # no history to review
    erin, sasha = users["erin"], users["sasha"]
    rng = random.Random(20261123)
    now = timezone.now()
    tz = agreement.calendar.time_zone
    due = now.astimezone(ZoneInfo(tz)).date() + timedelta(days=DUE_IN_DAYS)
    cadence = relativedelta(months=agreement.review_cadence_months)
    oldest_start, oldest_due = due - 3 * cadence, due - 2 * cadence

    crunch = (_at(oldest_start, 0, tz), _at(oldest_due, 0, tz))
    reviewed = _breach_reviews(rng, series, users, now=now, crunch=crunch)

    oldest = QuarterlyReview.objects.create(
        series=series,
        agreement=agreement,
        period_start=oldest_start,
        period_end=oldest_due,
        due_date=oldest_due,
        status=ReviewStatus.SCHEDULED,
    )
    oldest = _past_review(
        oldest,
        lead=erin,
        other_lead=sasha,
        tz=tz,
        findings=(
            "P3 resolutions breached far more often than before: two engineers left in "
            "spring and the positions are still open. Most breach reviews say capacity. "
            "P1 and P2 acknowledgements stayed fast."
        ),
        decisions=(
            "Relax the P3 resolve target from 10 to 12 business days until the two "
            "positions are filled; restore it at the next review."
        ),
        targets={"P3": {"resolve": 96 * HOUR}},
        actions=[
            ("Backfill the two open engineering positions", erin, 45, 40),
            ("Add a P3 workload check to the weekly triage", sasha, 14, 10),
        ],
    )

    # From here on the daily task creates each review, 14 days before it is due.
    middle = _scheduled(series, now=_at(due - cadence, 9, tz) - timedelta(days=14))
    middle = _past_review(
        middle,
        lead=sasha,
        other_lead=erin,
        tz=tz,
        findings=(
            "With the two new engineers on board, P3 resolutions were back within 10 "
            "business days in all but a few cases. Acknowledgements remain excellent."
        ),
        decisions="Restore the P3 resolve target to 10 business days (80 h).",
        targets={"P3": {"resolve": 80 * HOUR}},
        actions=[("Onboarding buddy for the new engineers through the next quarter", erin, 30, 20)],
    )

    review = _scheduled(series, now=now - timedelta(hours=3))
    # Started this morning (its period ended at midnight), two hours ago at most.
    started = max(now - timedelta(hours=2), _at(due, 0, tz))
    review = services.review_start(review=review, actor=erin, now=started)
    proposal = {
        "P1": {"acknowledge": _recommended(review, "P1", "acknowledge")},
        "P2": {"resolve": _recommended(review, "P2", "resolve")},
    }
    proposal = {p: m for p, m in proposal.items() if all(v is not None for v in m.values())}
    review = services.review_update(
        review=review,
        actor=erin,
        findings=(
            "Draft: P1 and P2 acknowledgements met every time for three quarters. P2 "
            "resolutions drift past 72 h: the fixes wait for the release train. P3 "
            "acknowledgements come far sooner than the 8 h promised."
        ),
        proposed_targets=proposal,
        now=started + timedelta(minutes=30),
    )
    for title, owner, days in [
        ("Propose a hotfix lane for P1/P2 fixes", users["eli"], 21),
        ("Ask Support whether a shorter P3 acknowledge target helps them", sasha, 14),
    ]:
        services.action_item_create(
            actor=erin,
            title=title,
            owner=owner,
            due_date=started.date() + timedelta(days=days),
            review=review,
            now=started + timedelta(minutes=40),
        )
    versions = [str(r.resulting_agreement.version) for r in (oldest, middle)]
    stdout.write(
        f"  3 quarterly reviews of {agreement.title} (versions {' and '.join(versions)} "
        f"agreed in reviews) and {reviewed} breach reviews"
    )


def _scheduled(series, *, now: datetime) -> QuarterlyReview:
    """The series' review that the daily task creates at `now`."""
    return next(r for r in services.reviews_schedule(now=now) if r.series_id == series.pk)
