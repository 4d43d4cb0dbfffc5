"""Presentation of agreements: readable targets, status badges, the two promises, and
exception windows (also for the team page, which loads this library rather than importing
the agreements app)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from apps.agreements.durations import format_duration
from apps.agreements.models import Agreement, Metric, Party, PriorityTarget, Status
from apps.agreements.selectors import windows_current_and_upcoming

register = template.Library()

STATUS_COLOURS = {
    Status.DRAFT: "secondary",
    Status.IN_REVIEW: "warning",
    Status.ACTIVE: "success",
    Status.SUPERSEDED: "light",
    Status.RETIRED: "dark",
}
WINDOW_COLOURS = {
    "requested": "warning",
    "approved": "success",
    "rejected": "danger",
    "cancelled": "secondary",
}
METRIC_PHRASES = {
    Metric.ACKNOWLEDGE: "acknowledge",
    Metric.ACTION_PLAN: "action plan",
    Metric.RESOLVE: "resolve",
}


@register.simple_tag
def status_badge(agreement: Agreement) -> str:
    colour = STATUS_COLOURS.get(agreement.status, "secondary")
    text = "text-bg-light border" if colour == "light" else f"text-bg-{colour}"
    return format_html(
        '<span class="badge {}" data-testid="status-badge">{}</span>',
        text,
        agreement.get_status_display(),
    )


@register.simple_tag
def window_badge(window) -> str:
    return format_html(
        '<span class="badge text-bg-{}">{}</span>',
        WINDOW_COLOURS.get(window.status, "secondary"),
        window.get_status_display(),
    )


@register.filter
def window_length(delta) -> str:
    """A window's length: '3 days 4 h', '2 h 30 min'."""
    days, seconds = delta.days, delta.seconds
    rest = format_duration(seconds, business=False) if seconds >= 60 else ""
    if not days:
        return rest or "less than a minute"
    text = "1 day" if days == 1 else f"{days} days"
    return f"{text} {rest}".strip()


@register.filter
def target_duration(target: PriorityTarget, metric: str) -> str:
    """A target in readable units: business hours unless the tier runs 24×7."""
    return format_duration(target.seconds_for(metric), business=not target.around_the_clock)


def tier_summary(target: PriorityTarget) -> str:
    """'acknowledge within 30 min, action plan within 2 h, resolve within 8 h (24×7)'."""
    set_parts, best_effort = [], []
    for metric in Metric:
        if target.seconds_for(metric) is None:
            best_effort.append(METRIC_PHRASES[metric])
        else:
            set_parts.append(f"{METRIC_PHRASES[metric]} within {target_duration(target, metric)}")
    text = ", ".join(set_parts)
    if best_effort:
        text += f"; {' and '.join(best_effort)} best effort"
    if target.around_the_clock:
        text += " (24×7)"
    return text


@register.filter
def paused_metrics(target: PriorityTarget) -> str:
    """The metrics whose clocks stop while the handoff waits on the requester."""
    paused = [METRIC_PHRASES[m] for m in Metric if target.pauses(m)]
    return ", ".join(paused) if paused else "nothing"


@register.filter
def p1_summary(agreement: Agreement) -> str:
    # target_for() reads the prefetched targets: no query per row on the list page.
    target = agreement.target_for("P1")
    return tier_summary(target) if target else "no P1 tier"


@register.simple_tag
def promises(agreement: Agreement) -> dict:
    """The agreement in two sentences, one per side."""
    provider, requesting = agreement.provider_team, agreement.requesting_team
    required = [f.label for f in agreement.triage_fields.all() if f.required]
    giving = "to hand work over through this agreement"
    if required:
        giving += f" with the triage template filled in ({', '.join(required)})"
    duties = [
        giving,
        "to answer questions while a handoff waits on them (it closes after "
        f"{agreement.waiting_auto_close_days} days without a reply)",
    ]
    if agreement.resolution_validated_by in (Party.REQUESTING_TEAM, Party.REQUESTING_LEAD):
        days = agreement.confirmation_days
        duties.append(
            "to validate each resolution (it closes after "
            f"{days} business day{'' if days == 1 else 's'} without an answer)"
        )
    requesting_text = f"{requesting} promises {provider} {_join(duties)}."
    tiers = [f"{t.get_priority_display()} — {tier_summary(t)}" for t in agreement.targets.all()]
    if tiers:
        provider_text = (
            f"{provider} promises {requesting} to meet these targets: " + "; ".join(tiers) + "."
        )
    else:
        provider_text = f"{provider} has not promised any targets to {requesting} yet."
    return {"requesting": requesting_text, "provider": provider_text}


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@register.inclusion_tag("agreements/_windows.html", takes_context=True)
def team_exception_windows(context, team) -> dict:
    """Current and upcoming exception windows of a provider team (the team page)."""
    return {
        "windows": list(windows_current_and_upcoming(team=team)),
        "team": team,
        "user": context.get("user"),
        "show_scope": True,
    }


@register.simple_tag
def party(agreement: Agreement, value: str) -> str:
    """'provider_lead' → 'Engineering's lead'."""
    team = agreement.provider_team if value.startswith("provider") else agreement.requesting_team
    return f"{team}’s lead" if value.endswith("_lead") else f"{team} (any member)"
