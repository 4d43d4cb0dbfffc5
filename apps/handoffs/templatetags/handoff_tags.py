"""Presentation of handoffs: badges, clock readings in words, and the timeline in
sentences (apps.handoffs.timeline).

Everything here reads what the views prefetched; no tag runs a query.
"""

from __future__ import annotations

from django import template
from django.template.defaultfilters import linebreaks_filter, linebreaksbr
from django.template.defaulttags import CsrfTokenNode
from django.urls import reverse
from django.utils.safestring import mark_safe

from apps.agreements.models import Metric, Priority
from apps.core import urls
from apps.core.dates import local_moment
from apps.core.html import format_html, format_html_join

from .. import forms, timeline
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
def field_markup(bound) -> str:
    """One field of an action form in Bootstrap markup (`forms.field_markup`)."""
    return forms.field_markup(bound)


@register.filter
def metric_label(value: str) -> str:
    return Metric(value).label if value in Metric.values else value


# --- the actions -------------------------------------------------------------------------


# The buttons that act at once: (action, button class, icon, words).
BUTTONS = [
    ("acknowledge", "btn-primary", "check2-circle", "Acknowledge"),
    ("start", "btn-outline-primary", "play", "Start work"),
]


@register.simple_tag(takes_context=True)
def action_area(context) -> str:
    """The actions the viewer may take (the view's `actions`, `panels`, `action_forms`):
    the buttons that act at once, then a folding panel per action with a form, the one
    that failed (`open_action`) open. Written with format_html: as template tags, eight
    panels' conditions were a fifth of the page's rendering."""
    actions, urls, opened = context["actions"], context["action_urls"], context["open_action"]
    if not actions:
        return ""
    csrf = CsrfTokenNode().render(context)  # what {% csrf_token %} writes
    parts = [
        format_html(
            '<form method="post" action="{}">{}<button type="submit" class="btn {}" '
            'data-testid="action-{}"><i class="bi bi-{}"></i> {}</button></form>',
            urls[name],
            csrf,
            colour,
            name,
            icon,
            words,
        )
        for name, colour, icon, words in BUTTONS
        if name in actions
    ]
    for panel in context["panels"]:
        name = panel["name"]
        form_id = ""
        if name == "resume":
            form_id = ' id="reply"'
        elif name == "close" or (name == "reopen" and "close" not in actions):
            form_id = ' id="confirm"'
        parts.append(
            format_html(
                '<details class="border rounded px-2 py-1" data-testid="panel-{}"{}>'
                '<summary class="btn btn-link p-0{}">{}</summary>'
                '<form method="post" action="{}" class="mt-2" novalidate{}>{}{}'
                '<button type="submit" class="btn btn-sm {}" data-testid="action-{}">{}</button>'
                "</form></details>",
                name,
                mark_safe(" open") if opened == name else "",
                mark_safe(" link-danger") if name == "cancel" else "",
                panel["title"],
                panel["url"],
                mark_safe(form_id),  # noqa: S308 - one of two constants
                csrf,
                panel["form"].as_markup(),
                "btn-outline-danger" if name == "cancel" else "btn-primary",
                name,
                panel["button"],
            )
        )
    if "assign" in actions:
        parts.append(_assign_panel(context, csrf))
    return format_html(
        '<div class="d-flex flex-wrap gap-2 align-items-start mb-4" '
        'data-testid="handoff-actions">{}</div>',
        mark_safe("\n".join(parts)),  # noqa: S308 - every part built with format_html
    )


def _assign_panel(context, csrf: str) -> str:
    form, handoff, user = context["action_forms"]["assign"], context["handoff"], context["user"]
    errors = form.non_field_errors()
    take = ""
    if handoff.assignee_id != user.pk:
        take = mark_safe(
            '<button type="submit" name="take" value="1" class="btn btn-sm '
            'btn-outline-primary" data-testid="action-take">Take it</button>'
        )
    return format_html(
        '<details class="border rounded px-2 py-1" data-testid="panel-assign"{}>'
        '<summary class="btn btn-link p-0">Assign</summary>'
        '<form method="post" action="{}" class="mt-2" novalidate>{}{}{}'
        '<button type="submit" class="btn btn-sm btn-primary" data-testid="action-assign">'
        "Assign</button>{}</form></details>",
        mark_safe(" open") if context["open_action"] == "assign" else "",
        context["action_urls"]["assign"],
        csrf,
        format_html('<div class="alert alert-danger py-1">{}</div>', errors) if errors else "",
        forms.field_markup(form["assignee"]),
        take,
    )


# --- the detail page's parts ---------------------------------------------------------------
# Written with format_html, as the page's other parts: template tags and filters per
# field were most of what was left of its rendering time.


@register.simple_tag(takes_context=True)
def detail_head(context) -> str:
    """The breadcrumb back to the queue, the title with its badges, and who handed what to
    whom under which agreement."""
    handoff, team = context["handoff"], context["queue_team"]
    agreement = handoff.agreement
    return format_html(
        '<nav aria-label="breadcrumb"><ol class="breadcrumb"><li class="breadcrumb-item">'
        '<a href="{}">Queues</a></li><li class="breadcrumb-item"><a href="{}">{}{}</a></li>'
        '<li class="breadcrumb-item active" aria-current="page">#{}</li></ol></nav>\n'
        '<div class="page-header">\n  <h1 class="h3"><span class="text-body-secondary">#{}'
        "</span> {}</h1>\n  {}\n  {}\n</div>\n"
        '<p class="text-body-secondary" data-testid="handoff-teams">\n  <a href="{}">{}</a> '
        '<i class="bi bi-arrow-right" aria-label="handed to"></i>\n  <a href="{}">{}</a>\n'
        "  · filed by {} {}\n"
        '  · under <a href="{}" data-testid="agreement-link">{} v{}</a>\n</p>',
        urls.reverse("queues:index"),
        context["queue_url"],
        team.name,
        " inbound" if context["provider_side"] else " handed over",
        handoff.pk,
        handoff.pk,
        handoff.title,
        status_badge(handoff),
        priority_badge(handoff.priority),
        handoff.requesting_team.get_absolute_url(),
        handoff.requesting_team.name,
        handoff.provider_team.get_absolute_url(),
        handoff.provider_team.name,
        handoff.created_by.display_name,
        _when(handoff.created_at),
        agreement.get_absolute_url(),
        agreement.title,
        agreement.version,
    )


NO_DESCRIPTION = mark_safe('<p class="text-body-secondary">No description.</p>')
NO_ANSWER = mark_safe('<span class="text-body-secondary">—</span>')
NO_TRIAGE = mark_safe('<dd class="col-12 text-body-secondary">No triage template.</dd>')


def _answer(value) -> str:
    if value is None or value == "":
        return NO_ANSWER
    if str(value)[:4] == "http":
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', value, value)
    return linebreaksbr(str(value), autoescape=True)


@register.simple_tag(takes_context=True)
def detail_main(context) -> str:
    """The description, the triage answers, the timeline and, for who may, the comment
    form."""
    handoff = context["handoff"]
    description = (
        linebreaks_filter(handoff.description, autoescape=True)
        if handoff.description
        else NO_DESCRIPTION
    )
    answers = format_html_join(
        "\n",
        '<dt class="col-sm-4">{}</dt>\n<dd class="col-sm-8">{}</dd>',
        ((label, _answer(value)) for label, value in context["triage"]),
    )
    comment = ""
    if "comment" in context["actions"]:
        comment = format_html(
            '<form method="post" action="{}" novalidate data-testid="comment-form">\n{}\n{}\n'
            '<button type="submit" class="btn btn-outline-primary btn-sm" '
            'data-testid="action-comment"><i class="bi bi-chat-left-text"></i> Add comment'
            "</button>\n</form>",
            context["action_urls"]["comment"],
            CsrfTokenNode().render(context),
            context["action_forms"]["comment"].as_markup(),
        )
    return format_html(
        '<h2 class="h5">Description</h2>\n<div class="mb-4" data-testid="description">{}</div>\n'
        '<h2 class="h5">Triage</h2>\n<dl class="row mb-4" data-testid="triage-answers">\n{}\n'
        "</dl>\n"
        '<h2 class="h5">Timeline</h2>\n<ol class="list-group mb-3" data-testid="timeline">\n{}\n'
        "</ol>\n{}",
        description,
        answers or NO_TRIAGE,
        timeline_items(context["events"], handoff, context["people"]),
        comment,
    )


@register.simple_tag(takes_context=True)
def detail_side(context) -> str:
    """The handoff's details, who watches it, and the viewer's Watch / Stop watching."""
    handoff, user, watchers = context["handoff"], context["user"], context["watchers"]
    agreement = handoff.agreement
    since = ""
    if handoff.waiting_since:
        since = format_html(" since {}", _when(handoff.waiting_since, "D j M, H:i T"))
    moments = format_html_join(
        "",
        "<dt>{}</dt><dd>{}</dd>",
        (
            (label, _when(value))
            for label, value in (
                ("Acknowledged", handoff.acknowledged_at),
                ("Resolved", handoff.resolved_at),
                ("Closed", handoff.closed_at),
            )
            if value
        ),
    )
    reopened = ""
    if handoff.reopen_count:
        reopened = format_html(
            "<dt>Reopened</dt><dd>{} time{}</dd>",
            handoff.reopen_count,
            "" if handoff.reopen_count == 1 else "s",
        )
    if watchers:
        listed = format_html(
            '<ul class="list-unstyled small mb-2" data-testid="watcher-list">\n{}\n</ul>',
            format_html_join(
                "",
                "<li>{}{}</li>",
                ((person.display_name, YOU if person.pk == user.pk else "") for person in watchers),
            ),
        )
    else:
        listed = NOBODY_WATCHES
    watching = user in watchers
    return format_html(
        '<h2 class="h5">Details</h2>\n<dl class="small" data-testid="details">\n'
        "<dt>Status</dt><dd>{}{}</dd>\n<dt>Priority</dt><dd>{}</dd>\n"
        '<dt>Assignee</dt><dd data-testid="assignee">{}</dd>\n'
        '<dt>Customer segment</dt><dd data-testid="segment">{}</dd>\n'
        '<dt>Impacted customers</dt><dd data-testid="impacted">{}</dd>\n'
        '<dt>Agreement</dt><dd><a href="{}">{}</a>, version {}</dd>\n{}{}\n</dl>\n'
        '<section class="mb-4" data-testid="watchers" aria-labelledby="watchers-heading">\n'
        '<h2 class="h5" id="watchers-heading">Watching</h2>\n{}\n'
        '<form method="post" action="{}">{}\n{}\n</form>\n</section>',
        handoff.get_status_display(),
        since,
        handoff.get_priority_display(),
        handoff.assignee.display_name if handoff.assignee else "unassigned",
        handoff.get_customer_segment_display(),
        handoff.impacted_customers,
        agreement.get_absolute_url(),
        agreement.title,
        agreement.version,
        moments,
        reopened,
        listed,
        urls.reverse("handoffs:unwatch" if watching else "handoffs:watch", pk=handoff.pk),
        CsrfTokenNode().render(context),
        UNWATCH if watching else WATCH,
    )


YOU = mark_safe(' <span class="text-body-secondary">(you)</span>')
NOBODY_WATCHES = mark_safe(
    '<p class="small text-body-secondary mb-2">Nobody watches this handoff.</p>'
)
WATCH = mark_safe(
    '<button type="submit" class="btn btn-sm btn-outline-primary" data-testid="action-watch">'
    '<i class="bi bi-eye" aria-hidden="true"></i> Watch</button>'
)
UNWATCH = mark_safe(
    '<button type="submit" class="btn btn-sm btn-outline-secondary" '
    'data-testid="action-unwatch"><i class="bi bi-eye-slash" aria-hidden="true"></i> '
    "Stop watching</button>"
)


# --- the timeline ------------------------------------------------------------------------


@register.simple_tag
def timeline_items(events, handoff, people: dict) -> str:
    """The events as the timeline's list items (`timeline.as_html`); `people` maps the user
    ids they name to users (read once, in the view)."""
    return timeline.as_html(timeline.entries(events, handoff, people))


# --- the detail page's clocks --------------------------------------------------------------

MOMENT = timeline.MOMENT
BEST_EFFORT = mark_safe('<span class="text-body-secondary">best effort</span>')
AROUND_THE_CLOCK = mark_safe(' <span class="badge text-bg-light border">24×7</span>')


def _when(moment, fmt: str = MOMENT) -> str:
    # The `date` filter: the moment in the reader's zone (the active one).
    return local_moment(moment, fmt)


def _due(reading, provider_side: bool) -> str:
    """The Due cell: when, or how it ended; and the breach review, or a link to write one."""
    clock = reading.clock
    if clock.status == ClockStatus.RUNNING and clock.due_at:
        due = format_html(
            '{} <span class="small text-body-secondary">({})</span>',
            _when(clock.due_at),
            time_left(reading),
        )
    elif clock.status == ClockStatus.PAUSED:
        due = (
            format_html(
                'paused <span class="small text-body-secondary">({} left when it resumes)</span>',
                clock_duration(reading.remaining, clock),
            )
            if reading.remaining is not None
            else "paused"
        )
    elif clock.status == ClockStatus.MET:
        due = format_html("met {}", _when(clock.met_at))
    elif clock.status == ClockStatus.BREACHED:
        due = format_html("breached {}", _when(clock.breached_at))
    else:
        due = "—"
    if not clock.breached_at:
        return due
    review = getattr(clock, "breach_review", None)  # the reviews app's, read with the clock
    url = reverse("reviews:breach", args=[clock.pk])
    if review is not None:
        link = format_html(
            '<a class="small d-block" href="{}" data-testid="breach-review-link">'
            '<i class="bi bi-clipboard-check"></i> Breach reviewed: {}</a>',
            url,
            review.get_root_cause_display(),
        )
    elif provider_side:
        link = format_html(
            '<a class="small d-block link-danger" href="{}" data-testid="breach-review-link">'
            '<i class="bi bi-pencil-square"></i> Review this breach</a>',
            url,
        )
    else:
        return due
    return format_html("{} {}", due, link)


def _clock_row(reading, provider_side: bool) -> str:
    clock = reading.clock
    label = clock.get_metric_display()
    state = clock_badge(clock)
    if clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        state = format_html(
            '{} <span class="badge text-bg-{}">{}</span>',
            state,
            rag_colour(reading),
            rag_words(reading),
        )
    if reading.percent is None:
        progress = BEST_EFFORT
    else:
        progress = format_html(
            '<progress max="100" value="{}" aria-label="{} progress">{} %</progress> '
            '<span data-testid="clock-percent">{} %</span>',
            min(reading.percent, 100),
            label,
            reading.percent,
            reading.percent,
        )
    return format_html(
        '<tr data-testid="clock-{}"><th scope="row">{}</th><td>{}{}</td><td>{}</td>'
        '<td data-testid="clock-due">{}</td><td>{}</td><td class="text-nowrap">{}</td></tr>',
        clock.metric,
        label,
        clock_duration(clock.target_seconds, clock),
        AROUND_THE_CLOCK if clock.around_the_clock else "",
        clock_duration(reading.consumed, clock),
        _due(reading, provider_side),
        state,
        progress,
    )


@register.simple_tag
def clock_rows(readings, provider_side: bool) -> str:
    """The clocks table's rows, written with format_html: a template loop with a dozen
    filters and tags per clock was a fifth of the page's rendering."""
    return format_html_join("\n", "{}", ((_clock_row(r, provider_side),) for r in readings))
