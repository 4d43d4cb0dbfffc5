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

The history is told period by period, as events of `context["timeline"]` (see
`apps.core.management.commands.seed_demo`) among the handoffs' filings: a quarter's
handoffs are filed under the version in force then; on the day its review is due, the
quarter's breaches are reviewed, the review is held and signed, and the version it agreed
governs the handoffs filed from that afternoon on. Everything goes through the services
with `now` set to the simulated moment. The one exception is the past reviews' rows: the
daily task would have created them (it did not run in the demo's past, and run now it
would schedule every series' review), so they are written as it would have written them;
the current one is created by the task itself.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from apps.agreements.models import Agreement, AgreementSeries
from apps.agreements.models import Status as AgreementStatus
from apps.handoffs.models import Clock

from . import services
from .models import BreachReview, QuarterlyReview, ReviewStatus

HOUR = 3600
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


def _breach_reviews(
    rng, series, users, *, now, until: datetime, crunch: tuple[datetime, datetime]
) -> int:
    """Review most breaches older than TO_REVIEW_DAYS at `now`, as the engineer who had it
    would; their action items due before `until` (the seed's now) were done in time."""
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
            if due < until.date():  # the past ones were done in time
                services.action_item_set_done(
                    item=item, actor=item.owner, done=True, now=when + timedelta(days=10)
                )
    return done


def _recommended(review: QuarterlyReview, priority: str, metric: str) -> int | None:
    for row in review.recommendations:
        if (row["priority"], row["metric"]) == (priority, metric):
            return row["recommended_seconds"]
    return None


def _meet(
    review: QuarterlyReview,
    *,
    lead,
    tz: str,
    findings: str,
    decisions: str,
    targets: dict,
    actions: list[tuple],
) -> QuarterlyReview:
    """Start a past review on the day it was due (the first day after its period, when its
    figures were complete), write what the meeting found and agreed, add its actions."""
    due = review.due_date
    review = services.review_start(review=review, actor=lead, now=_at(due, 9, tz))
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
    return review


def _past_review(series, *, start: date, due: date, tz: str, lead, other_lead, sweep, **notes):
    """The events of a past review: the morning it was due, the breaches of the period are
    reviewed and the review is created (as the daily task would have: the demo's history
    has no daily task), started and written; both leads sign in the afternoon, and the
    version it agreed governs the handoffs filed from then on."""
    held: dict[str, QuarterlyReview] = {}

    def meet():
        sweep(_at(due, 8, tz))
        review = QuarterlyReview.objects.create(
            series=series,
            agreement=Agreement.objects.get(series=series, status=AgreementStatus.ACTIVE),
            period_start=start,
            period_end=due,
            due_date=due,
            status=ReviewStatus.SCHEDULED,
        )
        held["review"] = _meet(review, lead=lead, tz=tz, **notes)

    def sign(actor, hour: int, comment: str = ""):
        def act():
            held["review"] = services.review_sign_off(
                review=held["review"], actor=actor, comment=comment, now=_at(due, hour, tz)
            )

        return act

    return [
        (_at(due, 8, tz), meet),
        (_at(due, 15, tz), sign(lead, 15, "Agreed in the meeting.")),
        (_at(due, 16, tz), sign(other_lead, 16)),
    ]


def seed(*, context: dict, stdout) -> None:
    """Plan the two past reviews of Support → Engineering as events of the history."""
    teams, users = context["teams"], context["users"]
    series = AgreementSeries.objects.filter(
        provider_team=teams["engineering"], requesting_team=teams["support"]
    ).first()
    if series is None or QuarterlyReview.objects.filter(series=series).exists():
        return
    if not context.get("demo_handoffs"):
        return  # the history was told by an earlier seed: nothing to review in it
    erin, sasha = users["erin"], users["sasha"]
    rng = random.Random(20261123)
    now = timezone.now()
    tz = teams["engineering"].calendar.time_zone
    today = now.astimezone(ZoneInfo(tz)).date()
    cadence = relativedelta(months=series.versions.get(version=1).review_cadence_months)
    # The version in force since `today - 3 cadences` (apps.agreements.demo) is first
    # reviewed one cadence later; each review after it one cadence after the one before.
    oldest_due = today - 3 * cadence + cadence
    oldest_start, middle_due = oldest_due - cadence, oldest_due + cadence
    crunch = (_at(oldest_start, 0, tz), _at(oldest_due, 0, tz))

    def sweep(at: datetime) -> int:
        return _breach_reviews(rng, series, users, now=at, until=now, crunch=crunch)

    timeline = context.setdefault("timeline", [])
    timeline += _past_review(
        series,
        start=oldest_start,
        due=oldest_due,
        tz=tz,
        lead=erin,
        other_lead=sasha,
        sweep=sweep,
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
    timeline += _past_review(
        series,
        start=oldest_due,
        due=middle_due,
        tz=tz,
        lead=sasha,
        other_lead=erin,
        sweep=sweep,
        findings=(
            "With the two new engineers on board, P3 resolutions were back within 10 "
            "business days in all but a few cases. Acknowledgements remain excellent."
        ),
        decisions="Restore the P3 resolve target to 10 business days (80 h).",
        targets={"P3": {"resolve": 80 * HOUR}},
        actions=[("Onboarding buddy for the new engineers through the next quarter", erin, 30, 20)],
    )
    context["demo_reviews"] = {"series": series, "sweep": sweep, "now": now, "tz": tz}


def finish(*, context: dict, stdout) -> None:
    """The breaches since the last review reviewed (all but the newest), and the current
    quarter's review: due today, started this morning, with a draft proposal."""
    planned = context.get("demo_reviews")
    if not planned:
        return
    series, now, tz = planned["series"], planned["now"], planned["tz"]
    users = context["users"]
    erin, sasha = users["erin"], users["sasha"]
    planned["sweep"](now)
    review = _scheduled(series, now=now - timedelta(hours=3))
    # Started this morning (its period ended at midnight), two hours ago at most.
    started = max(now - timedelta(hours=2), _at(review.due_date, 0, tz))
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
    past = QuarterlyReview.objects.filter(series=series, status=ReviewStatus.COMPLETED)
    versions = sorted(
        r.resulting_agreement.version for r in past.select_related("resulting_agreement")
    )
    reviewed = BreachReview.objects.filter(clock__handoff__agreement__series=series).count()
    stdout.write(
        f"  3 quarterly reviews of {review.agreement.title} (versions "
        f"{' and '.join(map(str, versions))} agreed in reviews) and {reviewed} breach reviews"
    )


def _scheduled(series, *, now: datetime) -> QuarterlyReview:
    """The series' review that the daily task creates at `now`."""
    return next(r for r in services.reviews_schedule(now=now) if r.series_id == series.pk)
