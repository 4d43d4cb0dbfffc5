"""Two versions side by side, row by row, for the compare page.

Targets are matched by priority, triage fields by key and escalation steps by metric and
percent, so a row says "P1 resolve: 8 h → 6 h" rather than "row 1 changed".
"""

from __future__ import annotations

from .durations import format_duration
from .models import Agreement, Metric, Priority
from .services import AGREEMENT_FIELDS

MISSING = "—"


def _field_value(agreement: Agreement, name: str) -> str:
    field = agreement._meta.get_field(name)
    if field.choices:
        return getattr(agreement, f"get_{name}_display")()
    value = getattr(agreement, name)
    if value is None or value == "":
        return MISSING
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _row(label: str, left: str, right: str) -> dict:
    return {"label": label, "left": left, "right": right, "changed": left != right}


TARGET_ROWS = ("impact", "acknowledge", "action plan", "resolve", "runs", "pauses while waiting")


def _target_values(target) -> dict[str, str]:
    if target is None:
        return dict.fromkeys(TARGET_ROWS, MISSING)
    values = {"impact": target.impact or MISSING}
    for metric in Metric:
        values[metric.label.lower()] = format_duration(
            target.seconds_for(metric), business=not target.around_the_clock
        )
    values["runs"] = "24×7" if target.around_the_clock else "on the calendar"
    values["pauses while waiting"] = _pauses(target)
    return values


def _target_rows(left: Agreement, right: Agreement) -> list[dict]:
    rows = []
    for priority in Priority:
        before = _target_values(left.target_for(priority))
        after = _target_values(right.target_for(priority))
        rows += [
            _row(f"{priority.value} {name}", before[name], after[name]) for name in TARGET_ROWS
        ]
    return rows


def _pauses(target) -> str:
    paused = [m.label.lower() for m in Metric if target.pauses(m)]
    return ", ".join(paused) if paused else "nothing"


def _triage_summary(field) -> str:
    parts = [field.label, field.get_kind_display(), "required" if field.required else "optional"]
    if field.choices:
        parts.append("choices: " + ", ".join(field.choices))
    if field.pattern:
        parts.append(f"pattern: {field.pattern}")
    if field.help_text:
        parts.append(f"help: {field.help_text}")
    return " · ".join(parts)


def _triage_rows(left: Agreement, right: Agreement) -> list[dict]:
    lefts = {f.key: f for f in left.triage_fields.all()}
    rights = {f.key: f for f in right.triage_fields.all()}
    keys = list(lefts) + [k for k in rights if k not in lefts]
    return [
        _row(
            key,
            _triage_summary(lefts[key]) if key in lefts else MISSING,
            _triage_summary(rights[key]) if key in rights else MISSING,
        )
        for key in keys
    ]


def _step_summary(step) -> str:
    who = step.get_notify_display()
    if step.user_id:
        who = f"{who}: {step.user}"
    return f"notify {who}" + (" · raise priority" if step.raise_priority else "")


def _step_rows(left: Agreement, right: Agreement) -> list[dict]:
    order = {m.value: i for i, m in enumerate(Metric)}
    lefts = {(s.metric, s.percent): s for s in left.escalation_steps.all()}
    rights = {(s.metric, s.percent): s for s in right.escalation_steps.all()}
    keys = sorted(set(lefts) | set(rights), key=lambda k: (order.get(k[0], 9), k[1]))
    return [
        _row(
            f"{Metric(metric).label} at {percent} %",
            _step_summary(lefts[(metric, percent)]) if (metric, percent) in lefts else MISSING,
            _step_summary(rights[(metric, percent)]) if (metric, percent) in rights else MISSING,
        )
        for metric, percent in keys
    ]


def compare_versions(left: Agreement, right: Agreement) -> list[dict]:
    fields = [
        _row(
            str(Agreement._meta.get_field(name).verbose_name).capitalize(),
            _field_value(left, name),
            _field_value(right, name),
        )
        for name in AGREEMENT_FIELDS
    ]
    sections = [
        ("Agreement", fields),
        ("Priority targets", _target_rows(left, right)),
        ("Triage template", _triage_rows(left, right)),
        ("Escalation ladder", _step_rows(left, right)),
    ]
    return [
        {"title": title, "rows": rows, "changes": sum(r["changed"] for r in rows)}
        for title, rows in sections
    ]
