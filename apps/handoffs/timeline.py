"""The timeline in sentences: each event as a person would tell it ("Assigned to Dana
Diaz (was Bob)", "Priority P3 → P1", "Escalated to Erin Engel (provider lead) at 75 % of
the acknowledge target; priority raised to P2"), from what the services record in each
event's before/after (transitions.record, clockwork.store.clock_event).

Everything a person typed or named (names, comments) is escaped: sentences are built
with format_html, and the event's text is left to the template's autoescaping. Nothing
here runs a query: `people` maps the user ids the events name to users (the view loads
them in one query), clocks come from the handoff's prefetched clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString, mark_safe

from apps.agreements.durations import format_duration
from apps.agreements.models import Metric, Notify
from apps.core.dates import format_moment, local_moment
from apps.core.html import format_html, format_html_join

from .models import EventKind, Status

MOMENT = "D j M Y, H:i T"


def _said(words: str) -> SafeString:
    """A sentence of our own words (no value in it): nothing to escape."""
    return mark_safe(words)  # noqa: S308 - a literal from this module only


def in_words(seconds: int, *, business: bool) -> str:
    """Business seconds as a person says them; under a minute is not '0 min'."""
    if seconds < 60:
        return "less than a minute"
    return format_duration(seconds, business=business)


@dataclass
class Entry:
    """One line of the timeline: who (and in which role), the sentence, the text typed."""

    event: object
    who: str
    role: str
    sentence: SafeString
    text: str

    @property
    def kind(self) -> str:
        return self.event.kind


class _Reader:
    def __init__(self, handoff, people: dict):
        self.handoff = handoff
        self.people = people

    def name(self, user_id) -> str:
        if user_id is None or user_id == "":
            return "nobody"
        person = self.people.get(user_id)
        return person.display_name if person is not None else f"user {user_id}"

    def clock(self, metric: str | None):
        return self.handoff.clock(metric) if metric else None

    def duration(self, seconds, metric: str | None) -> str:
        if seconds is None:
            return "best effort"
        clock = self.clock(metric)
        return in_words(int(seconds), business=not (clock and clock.around_the_clock))


def _metric(value: str | None) -> str:
    return Metric(value).label.lower() if value in Metric.values else (value or "a")


def _status(value) -> str:
    return Status(value).label.lower() if value in Status.values else str(value)


def _moment(value) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return ""
    return local_moment(moment, MOMENT)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _escalated(event, after: dict, reader: _Reader, raised_to: str | None) -> SafeString:
    names = [reader.name(pk) for pk in after.get("to") or []]
    audience = after.get("notify")
    role = ""
    if audience in Notify.values and audience != Notify.USER:
        role = Notify(audience).label[0].lower() + Notify(audience).label[1:]
    if names:
        told = format_html_join(", ", "{}", ((n,) for n in names))
        told = format_html("{} ({})", told, role) if role else told
    else:
        told = format_html("nobody ({} not set)", role) if role else "nobody"
    sentence = format_html(
        "Escalated to {} at {} % of the {} target",
        told,
        after.get("percent", "?"),
        _metric(after.get("metric")),
    )
    if after.get("raise_priority"):
        if raised_to:
            sentence = format_html("{}; priority raised to {}", sentence, raised_to)
        else:
            sentence = format_html("{}; the step raises the priority", sentence)
    return sentence


def _sentence(event, reader: _Reader, raised_to: str | None) -> tuple[SafeString, bool]:
    """The sentence for one event, and whether the event's text follows it."""
    before, after = event.before or {}, event.after or {}
    kind = event.kind
    metric = after.get("metric")
    if kind == EventKind.CREATED:
        return format_html("Filed as {}", after.get("priority", "")), True
    if kind == EventKind.ACKNOWLEDGED:
        if after.get("assignee"):
            return format_html("Acknowledged; assigned to {}", reader.name(after["assignee"])), True
        return _said("Acknowledged"), True
    if kind == EventKind.STARTED:
        return _said("Started work"), True
    if kind == EventKind.ACTION_PLAN:
        return _said("Action plan"), True
    if kind == EventKind.WAITING:
        return _said("Waiting on the requester"), True
    if kind == EventKind.REPLIED:
        return _said("Replied; the work resumes"), True
    if kind == EventKind.RESUMED:
        return _said("Resumed the work without a reply"), True
    if kind == EventKind.RESOLVED:
        return _said("Resolved"), True
    if kind == EventKind.CLOSED:
        if event.actor_id is not None:
            return _said("Confirmed the resolution and closed"), True
        # Closed by the system: its comment says why ("Closed automatically: …").
        if event.comment:
            return format_html("{}", event.comment), False
        return _said("Closed"), True
    if kind == EventKind.REOPENED:
        count = after.get("reopen_count")
        if isinstance(count, int) and count > 1:
            return format_html("Reopened (the {} time)", _ordinal(count)), True
        return _said("Reopened"), True
    if kind == EventKind.CANCELLED:
        return _said("Cancelled"), True
    if kind == EventKind.ASSIGNED:
        new, old = after.get("assignee"), before.get("assignee")
        if new is None:
            return format_html("Unassigned (was {})", reader.name(old)), True
        if old is None:
            return format_html("Assigned to {}", reader.name(new)), True
        return format_html("Assigned to {} (was {})", reader.name(new), reader.name(old)), True
    if kind == EventKind.COMMENTED:
        return _said("Commented"), True
    if kind == EventKind.PRIORITY:
        return format_html(
            "Priority {} → {}", before.get("priority", "?"), after.get("priority")
        ), True
    if kind == EventKind.CLOCK_MET:
        return (
            format_html(
                "{} target met after {} (target {})",
                _metric(metric).capitalize(),
                reader.duration(after.get("consumed_seconds"), metric),
                reader.duration(after.get("target_seconds"), metric),
            ),
            True,
        )
    if kind == EventKind.CLOCK_BREACHED:
        sentence = format_html(
            "{} target of {} breached",
            _metric(metric).capitalize(),
            reader.duration(after.get("target_seconds"), metric),
        )
        when = _moment(after.get("breached_at"))
        if when:
            sentence = format_html("{} at {}", sentence, when)
        return sentence, True
    if kind == EventKind.CLOCK_BREACH_WITHDRAWN:
        sentence = format_html(
            "Breach of the {} target withdrawn: {} used of {}",
            _metric(metric),
            reader.duration(after.get("consumed_seconds"), metric),
            reader.duration(after.get("target_seconds"), metric),
        )
        if after.get("reason"):
            sentence = format_html("{} ({})", sentence, after["reason"])
        return sentence, True
    if kind == EventKind.ESCALATED:
        return _escalated(event, after, reader, raised_to), True
    if kind == EventKind.WARNED:
        if metric:
            return (
                format_html(
                    "Warning: {} % of the {} target used",
                    after.get("percent", "?"),
                    _metric(metric),
                ),
                True,
            )
        # A reminder to the requester: its comment is the sentence.
        if event.comment:
            return format_html("{}", event.comment), False
        return _said("Warning"), True
    return _fallback(event, reader), True


def _fallback(event, reader: _Reader) -> SafeString:
    """An event this module does not know yet: its kind and what changed, in words."""
    before, after = event.before or {}, event.after or {}
    parts = []
    for key in [*after, *(k for k in before if k not in after)]:
        if key in ("role", "metric", "notify"):
            continue
        old, new = before.get(key), after.get(key)
        if key == "status":
            old, new = (_status(v) if v is not None else None for v in (old, new))
        elif key == "assignee":
            old, new = (reader.name(v) if v is not None else None for v in (old, new))
        label = key.replace("_", " ")
        if old is not None and old != new:
            parts.append(format_html("{} {} → {}", label, old, new))
        elif new is not None:
            parts.append(format_html("{} {}", label, new))
    label = event.get_kind_display()
    if not parts:
        return format_html("{}", label)
    return format_html("{} ({})", label, format_html_join("; ", "{}", ((p,) for p in parts)))


def _raised_priorities(events) -> dict[int, str]:
    """Escalation events → the priority the ladder raised the handoff to: the system's
    priority change recorded at the same instant."""
    raised: dict = {}
    pending = []
    for event in events:
        if event.kind == EventKind.ESCALATED and (event.after or {}).get("raise_priority"):
            pending.append(event)
        elif event.kind == EventKind.PRIORITY and event.actor_id is None:
            for escalation in pending:
                if escalation.created_at == event.created_at:
                    raised[escalation.pk] = (event.after or {}).get("priority")
            pending = [e for e in pending if e.created_at != event.created_at]
    return raised


def entries(events, handoff, people: dict) -> list[Entry]:
    """The timeline of `events` (oldest first) as sentences."""
    events = list(events)
    reader = _Reader(handoff, people)
    raised = _raised_priorities(events)
    lines = []
    for event in events:
        sentence, with_text = _sentence(event, reader, raised.get(event.pk))
        actor = event.actor
        lines.append(
            Entry(
                event=event,
                who=actor.display_name if actor is not None else "System",
                role=(event.after or {}).get("role", "") if actor is not None else "",
                sentence=sentence,
                text=event.comment if with_text else "",
            )
        )
    return lines


def as_html(lines: list[Entry]) -> SafeString:
    """The timeline's list items in one pass of format_html: a template loop over the
    events cost more than building their sentences. Names, roles and typed text are
    escaped here; sentences are already safe (built with format_html above)."""
    items = []
    said: dict[datetime, str] = {}  # events of one minute read the same
    for line in lines:
        moment = timezone.localtime(line.event.created_at)
        minute = moment.replace(second=0, microsecond=0)
        if minute not in said:
            said[minute] = format_moment(moment, MOMENT)
        role = format_html(' <span class="text-body-secondary">({})</span>', line.role)
        text = format_html(': <span data-testid="event-comment">{}</span>', linebreaksbr(line.text))
        items.append(
            format_html(
                '<li class="list-group-item" data-testid="event" data-kind="{}">'
                '<div class="d-flex justify-content-between flex-wrap gap-2">'
                "<span><strong>{}</strong>{}</span>"
                '<time class="small text-body-secondary" datetime="{}">{}</time></div>'
                '<div class="mt-1"><span data-testid="event-sentence">{}</span>{}</div></li>',
                line.kind,
                line.who,
                role if line.role else "",
                moment.isoformat(),  # the date filter's "c"
                said[minute],
                line.sentence,
                text if line.text else "",
            )
        )
    return mark_safe("\n".join(items))  # noqa: S308 - every item built with format_html
