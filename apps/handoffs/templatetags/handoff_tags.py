"""Presentation of handoffs: badges, clock readings in words, and the timeline in
sentences (apps.handoffs.timeline).

Everything here reads what the views prefetched; no tag runs a query.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from apps.agreements.models import Metric, Priority

from .. import timeline
from ..models import ClockStatus, Status
from ..timeline import in_words

register = template.Library()

STATUS_COLOURS = {
    Status.NEW: "text-bg-primary",
    Status.ACKNOWLEDGED: "text-bg-info",
    Status.IN_PROGRESS: "text-bg-secondary",
    Status.WAITING: "text-bg-warning",
    Status.RESOLVED: "text-bg-success",
    Status.CLOSED: "text-bg-dark",
    Status.CANCELLED: "text-bg-light border",
}
PRIORITY_COLOURS = {
    Priority.P1: "text-bg-danger",
    Priority.P2: "text-bg-warning",
    Priority.P3: "text-bg-primary",
    Priority.P4: "text-bg-secondary",
}
CLOCK_COLOURS = {
    ClockStatus.RUNNING: "text-bg-primary",
    ClockStatus.PAUSED: "text-bg-warning",
    ClockStatus.MET: "text-bg-success",
    ClockStatus.BREACHED: "text-bg-danger",
    ClockStatus.CANCELLED: "text-bg-light border",
}
RAG_COLOURS = {"green": "success", "amber": "warning", "red": "danger", "grey": "secondary"}
RAG_WORDS = {"green": "on track", "amber": "at risk", "red": "breached", "grey": "no target"}
VERDICT_WORDS = {
    "on_track": "on track",
    "at_risk": "at risk",
    "breached": "breached",
    "met": "met",
    "paused": "paused",
    "cancelled": "cancelled",
}


@register.simple_tag
def status_badge(handoff) -> str:
    return format_html(
        '<span class="badge {}" data-testid="handoff-status">{}</span>',
        STATUS_COLOURS.get(handoff.status, "text-bg-secondary"),
        handoff.get_status_display(),
    )


@register.simple_tag
def priority_badge(priority: str) -> str:
    label = Priority(priority).label if priority in Priority.values else priority
    return format_html(
        '<span class="badge {}" title="{}" data-testid="priority">{}</span>',
        PRIORITY_COLOURS.get(priority, "text-bg-secondary"),
        label,
        priority,
    )


@register.simple_tag
def clock_badge(clock) -> str:
    return format_html(
        '<span class="badge {}" data-testid="clock-status">{}</span>',
        CLOCK_COLOURS.get(clock.status, "text-bg-secondary"),
        clock.get_status_display().lower(),
    )


@register.filter
def clock_duration(seconds, clock) -> str:
    """Seconds of a clock in readable units: business time unless the clock runs 24×7."""
    if seconds is None:
        return "best effort"
    return in_words(int(seconds), business=not clock.around_the_clock)


@register.filter
def time_left(reading) -> str:
    """What the one verdict says in words: '2 business h 15 min left', 'overdue by
    40 min', 'paused · 3 business h left when it resumes', 'best effort'."""
    if reading is None:
        return "no clock running"
    clock = reading.clock
    business = not clock.around_the_clock
    if reading.remaining is None:
        return "best effort"
    overdue = in_words(max(-reading.remaining, 1), business=business)
    if reading.verdict == "breached":
        if clock.status == ClockStatus.PAUSED:
            return f"breached · paused, overdue by {overdue}"
        if reading.remaining < 0:
            return f"overdue by {overdue}"
        return "breached"
    if reading.verdict == "paused":
        left = in_words(reading.remaining, business=business)
        return f"paused · {left} left when it resumes"
    if reading.remaining <= 0:
        # Exactly at the target and outside open hours: due, not yet breached.
        return "due now · breaches when business time resumes"
    return f"{in_words(reading.remaining, business=business)} left"


@register.filter
def rag_colour(reading) -> str:
    return RAG_COLOURS.get(getattr(reading, "rag", "grey"), "secondary")


@register.filter
def rag_words(reading) -> str:
    if getattr(reading, "clock", None) is not None and reading.remaining is None:
        return "no target"
    return VERDICT_WORDS.get(getattr(reading, "verdict", ""), "")


@register.filter
def metric_label(value: str) -> str:
    return Metric(value).label if value in Metric.values else value


# --- the timeline ------------------------------------------------------------------------


@register.simple_tag
def timeline_entries(events, handoff, people: dict) -> list:
    """The events as sentences (apps.handoffs.timeline); `people` maps the user ids they
    name to users (one query, in the view)."""
    return timeline.entries(events, handoff, people)
