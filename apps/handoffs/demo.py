"""Demo handoffs: three quarters of history and a dozen open ones.

Everything goes through the services with `now` set to the simulated moment, so clocks,
pauses, breaches and the timeline are exactly what real use would have produced. Each
handoff is filed as an event of the demo's history (`context["timeline"]`, see
`apps.core.management.commands.seed_demo`), so it binds to the agreement version in force
at that moment, as a requester filing it then would have. The random generator is seeded:
every `seed_demo` on an empty database builds the same story.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from apps.agreements.models import Agreement, AgreementSeries, Metric
from apps.agreements.models import Status as AgreementStatus
from apps.core.exceptions import Conflict

from . import permissions, services
from .clockwork import arithmetic as clockwork
from .models import Handoff

# Three review periods (and a little of the one before) of finished work, so that the
# quarterly review of Support → Engineering has a three-period streak to read.
HISTORY_DAYS = 300
HISTORY_COUNT = {"escalation": 450, "onboarding": 70}
PRIORITY_MIX = {"P1": 0.1, "P2": 0.22, "P3": 0.43, "P4": 0.25}


@dataclass(frozen=True)
class Pace:
    """How long a stage takes, as a share of its target: usually within `[low, high]`;
    a `late` share of the time `[late_low, late_high]` (over 1: a breach)."""

    low: float
    high: float
    late: float = 0.0
    late_low: float = 1.05
    late_high: float = 1.6

    def share(self, rng: random.Random) -> float:
        if self.late and rng.random() < self.late:
            return rng.uniform(self.late_low, self.late_high)
        return rng.uniform(self.low, self.high)


DEFAULT_PACE = {
    Metric.ACKNOWLEDGE: Pace(0.05, 0.9, late=0.1, late_high=2.2),
    Metric.ACTION_PLAN: Pace(0.05, 0.9, late=0.12, late_high=2.2),
    Metric.RESOLVE: Pace(0.05, 0.9, late=0.15, late_high=2.2),
}
# Support → Engineering, shaped so that its quarterly reviews have something to say:
# P1 and P2 acknowledgements are always in time (three months ≥ 95 %: tighten), P3 ones
# come far sooner than promised (the 80th percentile is well under the target), P2
# resolutions drift late over the last months (the target needs loosening), and in the
# capacity crunch of late spring P3 resolutions breached often. P4 plans and resolutions
# are best effort: their pace is a share of P4's one target, the acknowledgement.
ESCALATION_PACE = {
    ("P1", Metric.ACKNOWLEDGE): Pace(0.25, 0.85),
    ("P1", Metric.ACTION_PLAN): Pace(0.35, 0.9, late=0.05),
    ("P1", Metric.RESOLVE): Pace(0.3, 0.95, late=0.08),
    ("P2", Metric.ACKNOWLEDGE): Pace(0.1, 0.75),
    ("P2", Metric.ACTION_PLAN): Pace(0.3, 0.9, late=0.08),
    ("P2", Metric.RESOLVE): Pace(0.35, 0.9, late=0.06),
    ("P3", Metric.ACKNOWLEDGE): Pace(0.05, 0.4, late=0.07, late_high=1.4),
    ("P3", Metric.ACTION_PLAN): Pace(0.3, 0.95, late=0.1, late_high=1.3),
    ("P3", Metric.RESOLVE): Pace(0.3, 0.9, late=0.05),
    ("P4", Metric.ACKNOWLEDGE): Pace(0.1, 0.8, late=0.05),
    ("P4", Metric.ACTION_PLAN): Pace(0.2, 1.5),
    ("P4", Metric.RESOLVE): Pace(1.0, 6.0),
}
# (days ago from, days ago to): the pace of those weeks where it differs.
ESCALATION_ERAS = [
    # The last three months: P2 fixes wait for the release train.
    ((0, 95), {("P2", Metric.RESOLVE): Pace(0.55, 1.0, late=0.3, late_high=1.5)}),
    # Late spring: two engineers left, normal work piled up.
    ((175, 270), {("P3", Metric.RESOLVE): Pace(0.5, 1.0, late=0.35, late_high=1.7)}),
]


ESCALATION_TITLES = [
    "Checkout fails with 502 for EU customers",
    "CSV export drops rows over 10k",
    "SSO login loops for Okta tenants",
    "Invoice PDF shows wrong VAT",
    "Webhook retries flood customer endpoint",
    "Search returns stale results after reindex",
    "Mobile app crashes on Android 14 upload",
    "Dashboard timezone off by one hour",
    "API rate limit too strict for enterprise plan",
    "Password reset emails delayed",
    "Bulk import hangs at 99 %",
    "Report totals differ from export",
]
# What a requester answers to "Can you share the customer's account id and a HAR file?".
REPLIES = [
    "Account id 48213. The HAR is in the shared drive: support/escalations/48213.",
    "Account 99102; the customer reproduced it at 10:42 CET, trace id 7f3c9a.",
    "The account id is 20577. They cannot share a HAR; the steps above reproduce it.",
    "Account 31840, enterprise plan. Logs: https://logs.example.com/trace/31840",
]
ONBOARDING_CUSTOMERS = [
    "Acme Logistics",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Retail",
    "Wayne Foods",
    "Hooli",
    "Vehement Capital",
    "Soylent",
    "Tyrell Robotics",
]


def _pick_priority(rng: random.Random, agreement: Agreement) -> str:
    defined = [t.priority for t in agreement.targets.all()]
    weights = [PRIORITY_MIX[p] for p in defined]
    return rng.choices(defined, weights=weights)[0]


def _triage(rng: random.Random, agreement: Agreement, index: int) -> dict:
    answers = {}
    for field in agreement.triage_fields.all():
        if field.kind == "choice":
            answers[field.key] = rng.choice(field.choices)
        elif field.kind == "number":
            answers[field.key] = rng.choice([1, 1, 2, 3, 5, 8, 20, 120])
        elif field.kind == "url":
            answers[field.key] = f"https://logs.example.com/trace/{index:05d}"
        elif field.kind == "email":
            answers[field.key] = f"contact{index}@customer.example"
        elif field.pattern:
            answers[field.key] = "2026-12-01"
        else:
            answers[field.key] = f"Demo answer {index}: {field.label.lower()}."
    return answers


class Simulator:
    """Files a series' handoffs under its version in force and walks each through its life
    at plausible moments, to the targets of the version it was filed under."""

    def __init__(self, rng, series, requesters, providers, *, paces=None, eras=(), now=None):
        self.rng = rng
        self.series = series
        self.requesters = requesters
        self.providers = providers
        self.paces = paces or {}
        self.eras = eras
        self.now = now
        self.versions: dict[int, Agreement] = {}
        self.hours: dict[tuple[int, bool], object] = {}

    def version(self) -> Agreement:
        """The series' version in force now (in the history: at the moment being played)."""
        pk = Agreement.objects.values_list("pk", flat=True).get(
            series=self.series, status=AgreementStatus.ACTIVE
        )
        if pk not in self.versions:
            self.versions[pk] = Agreement.objects.prefetch_related("targets", "triage_fields").get(
                pk=pk
            )
        return self.versions[pk]

    def pace(self, handoff: Handoff, metric: str) -> float:
        """This handoff's share of the metric's target (see `Pace`)."""
        key = (handoff.priority, metric)
        pace = self.paces.get(key, DEFAULT_PACE[metric])
        if self.now is not None:
            age = (self.now - handoff.created_at).days
            for (newest, oldest), overrides in self.eras:
                if newest <= age < oldest and key in overrides:
                    pace = overrides[key]
        return pace.share(self.rng)

    def seconds(self, handoff: Handoff, metric: str) -> int:
        """Business seconds the metric's stage takes for this handoff."""
        target = handoff.agreement.target_for(handoff.priority)
        seconds = target.seconds_for(metric) or target.seconds_for(Metric.ACKNOWLEDGE)
        return max(60, int(seconds * self.pace(handoff, metric)))

    def responsible(self, handoff: Handoff, action: str, preferred):
        """`preferred` when the agreement's responsibilities let them take `action`, else
        the first person who may (the lead posts the plan where the lead triages)."""
        if permissions.may(preferred, handoff, action):
            return preferred
        people = [*self.providers, *self.requesters]
        return next((u for u in people if permissions.may(u, handoff, action)), preferred)

    def clock_hours(self, handoff: Handoff):
        agreement = handoff.agreement
        flag = agreement.target_for(handoff.priority).around_the_clock
        if (agreement.pk, flag) not in self.hours:
            self.hours[agreement.pk, flag] = clockwork.business_hours(
                agreement, around_the_clock=flag
            )
        return self.hours[agreement.pk, flag]

    def file(self, at: datetime, index: int, title: str) -> Handoff:
        agreement = self.version()
        handoff = services.handoff_create(
            actor=self.rng.choice(self.requesters),
            agreement=agreement,
            title=title,
            priority=_pick_priority(self.rng, agreement),
            triage=_triage(self.rng, agreement, index),
            description="Seeded demo handoff.",
            customer_segment=self.rng.choice(["enterprise", "business", "business", "self_serve"]),
            impacted_customers=self.rng.choice([1, 1, 2, 4, 10, 35]),
            now=at,
        )
        handoff.agreement = agreement  # with its targets and triage fields at hand
        return handoff

    def history(self, at: datetime, index: int, title: str) -> None:
        """A past handoff: filed at `at`, then cancelled as a duplicate or lived to now."""
        handoff = self.file(at, index, title)
        if self.rng.random() < 0.04:
            services.handoff_cancel(
                handoff=handoff,
                actor=handoff.created_by,
                reason="Duplicate of another handoff.",
                now=at + timedelta(minutes=30),
            )
        else:
            self.live(handoff, until=self.now)

    def live(self, handoff: Handoff, until: datetime, *, stop_at: str = "closed") -> None:
        """Play the handoff forward, stopping before `until` or at stage `stop_at`.

        Each clock consumes the business time its pace says: the acknowledgement and the
        plan count from filing; the resolution too, minus the time spent waiting on the
        requester (its clock pauses then)."""
        rng = self.rng
        engineer = rng.choice(self.providers)
        requester = handoff.created_by
        created = handoff.created_at
        hours = self.clock_hours(handoff)
        steps = []
        acknowledged = hours.add(created, self.seconds(handoff, Metric.ACKNOWLEDGE))
        steps.append(
            (
                "acknowledged",
                acknowledged,
                lambda t: services.handoff_acknowledge(handoff=handoff, actor=engineer, now=t),
            )
        )
        planned = hours.add(created, self.seconds(handoff, Metric.ACTION_PLAN))
        planned = max(planned, acknowledged + timedelta(minutes=rng.randint(3, 20)))
        started = acknowledged + (planned - acknowledged) * rng.uniform(0.1, 0.6)
        steps.append(
            (
                "in_progress",
                started,
                lambda t: services.handoff_start(handoff=handoff, actor=engineer, now=t),
            )
        )
        steps.append(
            (
                "planned",
                planned,
                lambda t: services.handoff_post_action_plan(
                    handoff=handoff,
                    actor=self.responsible(handoff, "action_plan", engineer),
                    plan="Reproduced; fix and test plan posted.",
                    now=t,
                ),
            )
        )
        resolve_seconds = self.seconds(handoff, Metric.RESOLVE)
        # When it would be resolved without waiting on the requester.
        at = max(hours.add(created, resolve_seconds), planned + timedelta(minutes=5))
        if stop_at == "waiting" or rng.random() < 0.3:
            asked = planned + (at - planned) * rng.uniform(0.2, 0.8)
            replied = asked + timedelta(hours=rng.randint(2, 40))
            steps.append(
                (
                    "waiting",
                    asked,
                    lambda t: services.handoff_wait_on_requester(
                        handoff=handoff,
                        actor=engineer,
                        question="Can you share the customer's account id and a HAR file?",
                        now=t,
                    ),
                )
            )
            steps.append(
                (
                    "replied",
                    replied,
                    lambda t: services.handoff_resume(
                        handoff=handoff,
                        actor=requester,
                        # Nothing can be attached to a reply: the answer is in the text.
                        reply=rng.choice(REPLIES),
                        now=t,
                    ),
                )
            )
            # The resolve clock stood still while waiting: what is left runs from the reply.
            left = resolve_seconds - hours.between(created, asked)
            at = hours.add(replied, max(left, 300))
        steps.append(
            (
                "resolved",
                at,
                lambda t: services.handoff_resolve(
                    handoff=handoff, actor=engineer, resolution="Fix deployed and verified.", now=t
                ),
            )
        )
        if rng.random() < 0.08:
            at = at + timedelta(hours=rng.randint(2, 30))
            steps.append(
                (
                    "reopened",
                    at,
                    lambda t: services.handoff_reopen(
                        handoff=handoff, actor=requester, reason="Customer still sees it.", now=t
                    ),
                )
            )
            at = at + timedelta(hours=rng.randint(2, 30))
            steps.append(
                (
                    "resolved",
                    at,
                    lambda t: services.handoff_resolve(
                        handoff=handoff,
                        actor=engineer,
                        resolution="Second fix for the edge case.",
                        now=t,
                    ),
                )
            )
        at = at + timedelta(hours=rng.randint(1, 60))
        steps.append(
            (
                "closed",
                at,
                lambda t: services.handoff_close(
                    handoff=handoff, actor=self.responsible(handoff, "close", requester), now=t
                ),
            )
        )
        previous = handoff.created_at
        if stop_at != "closed":
            # Open demo work: squeeze the stages up to `stop_at` into the time it has had
            # (never later than its pace, so squeezing breaches nothing).
            count = next(i for i, (stage, _, _) in enumerate(steps) if stage == stop_at) + 1
            span = until - handoff.created_at
            steps = [
                (stage, min(moment, handoff.created_at + span * (i + 1) / (count + 1)), act)
                for i, (stage, moment, act) in enumerate(steps[:count])
            ]
        for stage, moment, act in steps:
            # Events happen in order: a stage never precedes the one before it.
            moment = max(moment, previous + timedelta(minutes=1))
            previous = moment
            if moment >= until:
                return
            try:
                act(moment)
            except Conflict:  # a step made moot by an earlier one (e.g. plan after resolve)
                continue
            if stage == stop_at:
                return


SERIES = {
    "escalation": ("engineering", "support"),
    "onboarding": ("customer-success", "sales"),
}
OPEN_STAGES = ["new", "new", "new", "acknowledged", "in_progress", "planned", "waiting", "resolved"]


def seed(*, context: dict, stdout) -> None:
    """Plan the filings of the history and of today's open work as events."""
    teams, users = context["teams"], context["users"]
    series = {
        name: AgreementSeries.objects.filter(
            provider_team=teams[provider], requesting_team=teams[requesting]
        ).first()
        for name, (provider, requesting) in SERIES.items()
    }
    if (
        None in series.values()
        or Handoff.objects.filter(agreement__series__in=series.values()).exists()
    ):
        return
    rng = random.Random(20261122)
    now = timezone.now()
    plans = [
        (
            "escalation",
            ["sasha", "sam", "skye"],
            ["erin", "eli", "emma"],
            lambda i: ESCALATION_TITLES[i % len(ESCALATION_TITLES)],
            {"paces": ESCALATION_PACE, "eras": ESCALATION_ERAS},
        ),
        (
            "onboarding",
            ["sal", "sid"],
            ["cora", "cal"],
            lambda i: f"Onboard {ONBOARDING_CUSTOMERS[i % len(ONBOARDING_CUSTOMERS)]}",
            {},
        ),
    ]
    timeline = context.setdefault("timeline", [])
    planned = 0
    for name, requesters, providers, title, shape in plans:
        sim = Simulator(
            rng,
            series[name],
            [users[u] for u in requesters],
            [users[u] for u in providers],
            now=now,
            **shape,
        )
        start = now - timedelta(days=HISTORY_DAYS)
        moments = sorted(
            start + timedelta(seconds=rng.randint(0, (HISTORY_DAYS - 5) * 86400))
            for _ in range(HISTORY_COUNT[name])
        )
        for index, at in enumerate(moments):
            timeline.append((at, functools.partial(sim.history, at, index, title(index))))
        # A dozen open ones at every stage, filed over the last working days.
        stages = OPEN_STAGES[: 8 if name == "escalation" else 4]
        for index, stage in enumerate(stages):
            at = now - timedelta(hours=rng.randint(1, 30))
            timeline.append(
                (at, functools.partial(_open, sim, at, 1000 + index, title(index + 3), stage))
            )
        planned += len(moments) + len(stages)
    context["demo_handoffs"] = {"planned": planned, "escalation": series["escalation"]}


def _open(sim: Simulator, at: datetime, index: int, title: str, stage: str) -> None:
    handoff = sim.file(at, index, title)
    if stage != "new":
        sim.live(handoff, until=sim.now, stop_at=stage)


def finish(*, context: dict, stdout) -> None:
    """One P1 filed 28.5 minutes before the seed ends: its acknowledge warning (75 % of
    30 min) is already due and its breach 90 s away, so a fresh `make run` shows the sweep
    putting a warning and then a breach in Engineering's inboxes within two minutes."""
    planned = context.get("demo_handoffs")
    if not planned:
        return
    escalation = Agreement.objects.prefetch_related("targets", "triage_fields").get(
        series=planned["escalation"], status=AgreementStatus.ACTIVE
    )
    services.handoff_create(
        actor=context["users"]["sam"],
        agreement=escalation,
        title="Checkout down for EU customers (demo: about to breach)",
        priority="P1",
        triage=_triage(random.Random(9999), escalation, 9999),
        description="Filed by seed_demo so that the clock sweep has something to do.",
        customer_segment="enterprise",
        impacted_customers=120,
        now=timezone.now() - timedelta(minutes=28, seconds=30),
    )
    stdout.write(f"  {planned['planned'] + 1} demo handoffs with their clocks and timelines")
