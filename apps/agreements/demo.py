"""Demo agreements: Support → Engineering escalation and Sales → Customer Success handoff,
each with a superseded first version; the second has a third version awaiting approval.

Targets come from the domain reading (seeds 001-003). Everything goes through the
services, exactly as a lead would do it in the browser.
"""

from . import services
from .models import DEFAULT_IMPACT, AgreementSeries, Kind, Party, Priority

MIN = 60
HOUR = 3600

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


def _approve_both(agreement, provider_lead, requesting_lead):
    services.agreement_submit(agreement=agreement, actor=requesting_lead)
    services.agreement_approve(agreement=agreement, actor=requesting_lead)
    return services.agreement_approve(agreement=agreement, actor=provider_lead)


def seed(*, context: dict, stdout) -> None:
    teams, users = context["teams"], context["users"]
    support, engineering = teams["support"], teams["engineering"]
    sales, success = teams["sales"], teams["customer-success"]
    sasha, erin, sal, cora = users["sasha"], users["erin"], users["sal"], users["cora"]
    agreements = {}

    if not AgreementSeries.objects.filter(
        provider_team=engineering, requesting_team=support
    ).exists():
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
        )
        _approve_both(v1, erin, sasha)
        v2 = services.agreement_amend(agreement=v1, actor=erin)
        services.agreement_update_draft(
            agreement=v2,
            actor=erin,
            targets=ESCALATION_TARGETS,
            change_summary="Tighter P1/P2 targets after the quarterly review: compliance "
            "stayed above 95 % for three quarters.",
        )
        agreements["escalation"] = _approve_both(v2, erin, sasha)

    if not AgreementSeries.objects.filter(provider_team=success, requesting_team=sales).exists():
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
        )
        _approve_both(v1, cora, sal)
        v2 = services.agreement_amend(agreement=v1, actor=cora)
        services.agreement_update_draft(
            agreement=v2,
            actor=cora,
            targets=ONBOARDING_TARGETS,
            change_summary="Enterprise deals acknowledged within 4 h.",
        )
        agreements["onboarding"] = _approve_both(v2, cora, sal)
        v3 = services.agreement_amend(agreement=v2, actor=sal)
        services.agreement_update_draft(
            agreement=v3,
            actor=sal,
            targets=ONBOARDING_TARGETS_V3,
            change_summary="Proposed: kickoff within 2 business days, onboarding in 8.",
        )
        services.agreement_submit(agreement=v3, actor=sal)
        services.agreement_approve(agreement=v3, actor=sal)  # awaiting Customer Success
    context["agreements"] = agreements
