"""Demo agreements: Support → Engineering escalation and Sales → Customer Success handoff,
each with a superseded first version; the second has a third version awaiting approval.

Targets come from the domain reading (seeds 001-003). Everything goes through the
services, exactly as a lead would do it in the browser, at the moment it happened: the
first versions at once, the later ones as events of the demo's history (see
`apps.core.management.commands.seed_demo`).
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from . import services
from .models import DEFAULT_IMPACT, Agreement, AgreementSeries, Kind, Party, Priority, Status

MIN = 60
HOUR = 3600
DAYS = timedelta(days=1)
# When each version came into force. Support → Engineering: the first version two years
# ago, the second at the start of the oldest quarter its reviews look at (three quarterly
# reviews back: apps.reviews.demo), the next ones agreed in those reviews. Sales → Customer
# Success: the second version two months ago, a third awaiting approval since last week.
ESCALATION_V1_MONTHS_AGO = 24
ESCALATION_V2_MONTHS_AGO = 9
ONBOARDING_V1_MONTHS_AGO = 14
ONBOARDING_V2_DAYS_AGO = 60
ONBOARDING_V3_DAYS_AGO = 6

ESCALATION_TRIAGE = [
    {
        "key": "steps_to_reproduce",
        "label": "Steps to reproduce",
        "kind": "long_text",
        "help_text": "Numbered steps from a clean state.",
    },
    {
        "key": "expected_vs_actual",
        "label": "Expected vs actual",
        "kind": "long_text",
        "help_text": "What should happen, and what happens instead.",
    },
    {
        "key": "environment",
        "label": "Environment",
        "kind": "choice",
        "choices": ["production", "staging", "sandbox"],
    },
    {
        "key": "logs",
        "label": "Logs / links",
        "kind": "url",
        "required": False,
        "help_text": "Link to logs, traces, screenshots or the customer ticket.",
    },
    {
        "key": "impacted_customers",
        "label": "Impacted customers",
        "kind": "number",
        "help_text": "How many customers are affected (best estimate).",
    },
    {
        "key": "customer_tier",
        "label": "Customer tier",
        "kind": "choice",
        "choices": ["enterprise", "business", "self-serve"],
    },
]


def _ladder(metric: str, *, raise_at_breach: bool) -> list[dict]:
    first = "provider_team" if metric == "acknowledge" else "assignee"
    return [
        {"metric": metric, "percent": 75, "notify": first},
        {
            "metric": metric,
            "percent": 100,
            "notify": "provider_lead",
            "raise_priority": raise_at_breach,
        },
        {"metric": metric, "percent": 150, "notify": "both_leads"},
    ]


ESCALATION_STEPS = (
    _ladder("acknowledge", raise_at_breach=False)
    + _ladder("action_plan", raise_at_breach=False)
    + _ladder("resolve", raise_at_breach=True)
)


def _tier(priority, ack, plan, resolve, *, around_the_clock=False) -> dict:
    return {
        "priority": priority,
        "impact": DEFAULT_IMPACT[priority],
        "acknowledge_seconds": ack,
        "action_plan_seconds": plan,
        "resolve_seconds": resolve,
        "around_the_clock": around_the_clock,
    }


# Seeds 002/003: critical work runs around the clock, normal work in business hours.
ESCALATION_TARGETS_V1 = [
    _tier(Priority.P1, 1 * HOUR, 4 * HOUR, 12 * HOUR, around_the_clock=True),
    _tier(Priority.P2, 4 * HOUR, 24 * HOUR, 96 * HOUR, around_the_clock=True),
    _tier(Priority.P3, 8 * HOUR, 40 * HOUR, 80 * HOUR),
    _tier(Priority.P4, 24 * HOUR, None, None),
]
ESCALATION_TARGETS = [
    _tier(Priority.P1, 30 * MIN, 2 * HOUR, 8 * HOUR, around_the_clock=True),
    _tier(Priority.P2, 2 * HOUR, 24 * HOUR, 72 * HOUR, around_the_clock=True),
    # 5 and 10 business days of Engineering's 8-hour day.
    _tier(Priority.P3, 8 * HOUR, 40 * HOUR, 80 * HOUR),
    _tier(Priority.P4, 24 * HOUR, None, None),
]

ONBOARDING_TRIAGE = [
    {"key": "customer", "label": "Customer", "kind": "text"},
    {
        "key": "plan_tier",
        "label": "Plan tier",
        "kind": "choice",
        "choices": ["enterprise", "business", "starter"],
    },
    {"key": "primary_contact_email", "label": "Primary contact email", "kind": "email"},
    {
        "key": "go_live_date",
        "label": "Go-live date",
        "kind": "text",
        "pattern": r"^\d{4}-\d{2}-\d{2}$",
        "help_text": "As YYYY-MM-DD.",
    },
    {"key": "notes", "label": "Notes", "kind": "long_text", "required": False},
]
# Customer Success works 09:00-17:30: one business day is 8 h 30 min.
DAY = 8 * HOUR + 30 * MIN
ONBOARDING_TARGETS_V1 = [
    _tier(Priority.P2, DAY, 3 * DAY, 10 * DAY),
    _tier(Priority.P3, 2 * DAY, 5 * DAY, 15 * DAY),
]
ONBOARDING_TARGETS = [
    _tier(Priority.P2, 4 * HOUR, 2 * DAY, 5 * DAY),
    _tier(Priority.P3, DAY, 3 * DAY, 10 * DAY),
]
ONBOARDING_TARGETS_V3 = [
    _tier(Priority.P2, 4 * HOUR, 2 * DAY, 5 * DAY),
    _tier(Priority.P3, DAY, 2 * DAY, 8 * DAY),
]


def _approve_both(agreement, provider_lead, requesting_lead, *, at: datetime):
    """Submitted two days before `at`, approved by the requesting lead the day after, in
    force from `at` when the provider lead approves."""
    services.agreement_submit(agreement=agreement, actor=requesting_lead, now=at - 2 * DAYS)
    services.agreement_approve(agreement=agreement, actor=requesting_lead, now=at - DAYS)
    return services.agreement_approve(agreement=agreement, actor=provider_lead, now=at)


def _local(now: datetime, tz: str, *, months: int = 0, days: int = 0, hour: int = 10):
    """`hour` o'clock on the local day `months` and `days` before `now`'s."""
    day = now.astimezone(ZoneInfo(tz)).date() - relativedelta(months=months, days=days)
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(tz))


def _amend(agreement, actor, *, at: datetime, **changes) -> None:
    """Draft the next version of the active `agreement` at `at` (an event of the history:
    by then `agreement` may no longer be the object the caller holds)."""
    draft = services.agreement_amend(agreement=agreement, actor=actor, now=at)
    services.agreement_update_draft(agreement=draft, actor=actor, now=at, **changes)


def _active(series) -> Agreement:
    return Agreement.objects.get(series=series, status=Status.ACTIVE)


def _draft(series) -> Agreement:
    return Agreement.objects.get(series=series, status=Status.DRAFT)


def seed(*, context: dict, stdout) -> None:
    """Version 1 of each agreement now, dated in the past; the later versions as events of
    the history (`context["timeline"]`), so that each handoff is filed under the version in
    force when it was filed."""
    teams, users = context["teams"], context["users"]
    support, engineering = teams["support"], teams["engineering"]
    sales, success = teams["sales"], teams["customer-success"]
    sasha, erin, sal, cora = users["sasha"], users["erin"], users["sal"], users["cora"]
    timeline = context.setdefault("timeline", [])
    now = timezone.now()

    if not AgreementSeries.objects.filter(
        provider_team=engineering, requesting_team=support
    ).exists():
        tz = engineering.calendar.time_zone
        first = _local(now, tz, months=ESCALATION_V1_MONTHS_AGO)
        v1 = services.agreement_create_draft(
            actor=sasha,
            provider_team=engineering,
            requesting_team=support,
            kind=Kind.ESCALATION,
            title="Support → Engineering escalations",
            service_description=(
                "Engineering investigates and fixes product defects that Support cannot "
                "resolve, and keeps Support informed until the fix is validated."
            ),
            scope_included="Reproducible defects, data problems, outages and degraded "
            "performance in the production product.",
            scope_excluded="Feature requests (product backlog), how-to questions, "
            "account and billing changes.",
            customer_sla="Enterprise customers: first response in 1 h, P1 workaround or fix "
            "within 8 h, around the clock.",
            initial_response_by=Party.PROVIDER_TEAM,
            triage_by=Party.PROVIDER_LEAD,
            updates_by=Party.PROVIDER_TEAM,
            resolution_validated_by=Party.REQUESTING_TEAM,
            playbook=(
                "P1: open the incident channel, page the on-call engineer, post updates "
                "every 30 min until mitigated.\nP2: assignee posts an action plan in the "
                "handoff within the target; updates daily.\nUnresponsive? Engineering lead, "
                "then engineering manager, then director."
            ),
            targets=ESCALATION_TARGETS_V1,
            triage_fields=ESCALATION_TRIAGE,
            steps=ESCALATION_STEPS,
            change_summary="First agreement.",
            now=first,
        )
        _approve_both(v1, erin, sasha, at=first + 7 * DAYS)
        escalation = v1.series
        escalation_v2 = _local(now, tz, months=ESCALATION_V2_MONTHS_AGO)
        timeline.append(
            (
                escalation_v2 - 10 * DAYS,
                lambda: _amend(
                    _active(escalation),
                    erin,
                    at=escalation_v2 - 10 * DAYS,
                    targets=ESCALATION_TARGETS,
                    change_summary="Tighter P1/P2 targets after the quarterly review: "
                    "compliance stayed above 95 % for three quarters.",
                ),
            )
        )
        timeline.append(
            (
                escalation_v2,
                lambda: _approve_both(_draft(escalation), erin, sasha, at=escalation_v2),
            )
        )

    if not AgreementSeries.objects.filter(provider_team=success, requesting_team=sales).exists():
        tz = success.calendar.time_zone
        first = _local(now, tz, months=ONBOARDING_V1_MONTHS_AGO)
        v1 = services.agreement_create_draft(
            actor=sal,
            provider_team=success,
            requesting_team=sales,
            kind=Kind.HANDOFF,
            title="Sales → Customer Success onboarding handoff",
            service_description=(
                "When a deal closes, Sales hands the customer to Customer Success, who "
                "acknowledge it, schedule the kickoff and start onboarding."
            ),
            scope_included="New customers and expansions to a new product line.",
            scope_excluded="Renewals without changes; self-serve sign-ups.",
            customer_sla="Onboarding starts within two weeks of signature.",
            initial_response_by=Party.PROVIDER_TEAM,
            triage_by=Party.PROVIDER_LEAD,
            updates_by=Party.PROVIDER_TEAM,
            resolution_validated_by=Party.REQUESTING_LEAD,
            playbook="Kickoff not scheduled in time? The CS lead assigns a backup CSM and "
            "tells the account executive the same day.",
            targets=ONBOARDING_TARGETS_V1,
            triage_fields=ONBOARDING_TRIAGE,
            steps=_ladder("action_plan", raise_at_breach=False)
            + _ladder("resolve", raise_at_breach=False),
            change_summary="First agreement.",
            now=first,
        )
        _approve_both(v1, cora, sal, at=first + 5 * DAYS)
        onboarding = v1.series
        onboarding_v2 = _local(now, tz, days=ONBOARDING_V2_DAYS_AGO)
        timeline.append(
            (
                onboarding_v2 - 7 * DAYS,
                lambda: _amend(
                    _active(onboarding),
                    cora,
                    at=onboarding_v2 - 7 * DAYS,
                    targets=ONBOARDING_TARGETS,
                    change_summary="Enterprise deals acknowledged within 4 h.",
                ),
            )
        )
        timeline.append(
            (onboarding_v2, lambda: _approve_both(_draft(onboarding), cora, sal, at=onboarding_v2))
        )
        v3_at = _local(now, tz, days=ONBOARDING_V3_DAYS_AGO)

        def propose_v3():
            _amend(
                _active(onboarding),
                sal,
                at=v3_at,
                targets=ONBOARDING_TARGETS_V3,
                change_summary="Proposed: kickoff within 2 business days, onboarding in 8.",
            )
            v3 = _draft(onboarding)
            services.agreement_submit(agreement=v3, actor=sal, now=v3_at + DAYS)
            # Awaiting Customer Success.
            services.agreement_approve(agreement=v3, actor=sal, now=v3_at + DAYS)

        timeline.append((v3_at, propose_v3))
