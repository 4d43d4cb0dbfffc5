"""What the review pages display, arranged from the models: the period and durations in
words, the frozen pack as tables and chart data, the recommendations, the proposed-targets
grid and its what-if replay, the two sides and their sign-offs. Reads only; no requests."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django.utils.dateparse import parse_datetime

from apps.agreements.durations import duration_input, format_duration
from apps.agreements.models import Metric, Priority
from apps.agreements.targets import TargetGrid
from apps.teams.models import Membership, Role, Team

from . import services, whatif
from .forms import TargetsForm
from .models import ActionItem, QuarterlyReview, ReviewStatus, RootCause

STATUS_COLOURS = {
    ReviewStatus.SCHEDULED: "text-bg-secondary",
    ReviewStatus.IN_PROGRESS: "text-bg-primary",
    ReviewStatus.AWAITING_SIGN_OFF: "text-bg-warning",
    ReviewStatus.COMPLETED: "text-bg-success",
}
CAUSE_LABELS = {**dict(RootCause.choices), "unreviewed": "Not reviewed yet"}
CAUSE_ORDER = [*RootCause.values, "unreviewed"]


def period_in_words(start: date, end: date) -> str:
    """[1 Jan 2026, 1 Apr 2026) → 'Q1 2026 (1 Jan – 31 Mar 2026)'; the end is exclusive."""
    last = end - timedelta(days=1)
    if start.year == last.year:
        span = f"{start.day} {start:%b} – {last.day} {last:%b} {last.year}"
    else:
        span = f"{start.day} {start:%b} {start.year} – {last.day} {last:%b} {last.year}"
    # Three months on, whatever the month: November + 3 is February of the next year.
    year, month0 = divmod(start.month - 1 + 3, 12)
    quarter_end = date(start.year + year, month0 + 1, 1)
    if start.day == 1 and start.month in (1, 4, 7, 10) and end == quarter_end:
        return f"Q{(start.month - 1) // 3 + 1} {start.year} ({span})"
    whole_month = start.day == 1 and last.day == calendar.monthrange(last.year, last.month)[1]
    if whole_month and (start.year, start.month) == (last.year, last.month):
        return f"{start:%B} {start.year}"
    return span


def duration(seconds, *, business: bool = True) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return "under a minute" if seconds else "0 min"
    return format_duration(seconds, business=business)


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


def hours(seconds) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def priorities_of(review: QuarterlyReview) -> list[str]:
    present = {t.priority for t in review.agreement.targets.all()} | set(review.proposed_targets)
    return [p for p in Priority.values if p in present]


def grid_of(review: QuarterlyReview) -> TargetGrid:
    """The reviewed version's targets and which tiers run 24×7 (once per request)."""
    if not hasattr(review, "_grid"):
        review._grid = TargetGrid.from_agreement(review.agreement)
    return review._grid


def rebased_of(review: QuarterlyReview) -> dict:
    """For an open review: the version in force now, what signing would make of the
    targets (the review's own changes on top of that version) and the conflicts with a
    version approved while the review was open. Computed once per request."""
    if not hasattr(review, "_rebased"):
        targets, conflicts, active = (
            services.review_rebased(review) if review.is_open else (None, [], None)
        )
        newer = active is not None and active.pk != review.agreement_id
        review._rebased = {
            "active": active,
            "newer": active if newer else None,
            "targets": targets,
            "conflicts": conflicts,
            "conflict_text": services.conflict_words(conflicts, active=active) if conflicts else "",
        }
    return review._rebased


def proposal(review: QuarterlyReview) -> dict:
    """The targets the grid shows: what signing would make active — the review's own
    changes over the version in force now, and its proposal where it conflicts."""
    rebased = rebased_of(review)
    if rebased["targets"] is None:
        return review.proposed_targets or grid_of(review).as_dict()
    shown = {p: dict(row) for p, row in rebased["targets"].items()}
    for c in rebased["conflicts"]:
        shown.setdefault(c["priority"], {})[c["metric"]] = c["proposed"]
    return shown


def targets_form_for(review: QuarterlyReview, data=None) -> TargetsForm:
    return TargetsForm(data, priorities=priorities_of(review), targets=proposal(review))


def section_rows(section: dict | None) -> dict[tuple[str, str], dict]:
    return {(r["priority"], r["metric"]): r for r in (section or {}).get("rows", [])}


def pack_context(review: QuarterlyReview) -> dict:
    """The frozen pack arranged for the page: per metric a table and two charts' data,
    breach causes, exception windows."""
    pack = review.pack or {}
    if not pack.get("period"):
        return {"ready": False}
    now_rows = section_rows(pack.get("period"))
    before_rows = section_rows(pack.get("previous"))
    grid = grid_of(review)
    priorities = priorities_of(review)
    metrics, charts = [], []
    for metric in Metric:
        rows, chart = (
            [],
            {
                "key": metric.value,
                "label": metric.label,
                "priorities": [],
                "met_pct": [],
                "met_pct_previous": [],
                "p50": [],
                "p80": [],
                "p95": [],
                "target": [],
            },
        )
        for priority in priorities:
            row = now_rows.get((priority, metric.value), {})
            previous = before_rows.get((priority, metric.value), {})
            business = grid.business(priority)
            rows.append(
                {
                    "priority": priority,
                    "target": duration(row.get("target_seconds"), business=business)
                    if row.get("target_seconds") is not None
                    else "best effort",
                    "volume": row.get("volume", 0),
                    "met": row.get("met", 0),
                    "breached": row.get("breached", 0),
                    "met_pct": percent(row.get("met_pct")),
                    "met_pct_previous": percent(previous.get("met_pct")),
                    "p50": duration(row.get("p50"), business=business),
                    "p80": duration(row.get("p80"), business=business),
                    "p95": duration(row.get("p95"), business=business),
                    "paused": duration(row.get("paused_seconds_avg"), business=False),
                    "reopen_pct": percent(row.get("reopen_pct")),
                    "waiting": duration(row.get("waiting_seconds_avg"), business=False),
                }
            )
            chart["priorities"].append(priority)
            chart["met_pct"].append(row.get("met_pct"))
            chart["met_pct_previous"].append(previous.get("met_pct"))
            for p in ("p50", "p80", "p95"):
                chart[p].append(hours(row.get(p)))
            chart["target"].append(hours(row.get("target_seconds")))
        metrics.append({"key": metric.value, "label": metric.label, "rows": rows})
        charts.append(chart)
    causes_now = pack["period"].get("breach_causes") or {}
    causes_before = (pack.get("previous") or {}).get("breach_causes") or {}
    causes = [
        {
            "key": cause,
            "label": CAUSE_LABELS.get(cause, cause),
            "count": causes_now.get(cause, 0),
            "previous": causes_before.get(cause, 0),
        }
        for cause in CAUSE_ORDER
        if causes_now.get(cause) or causes_before.get(cause)
    ]
    return {
        "ready": True,
        "built_at": pack.get("built_at"),
        "period": pack["period"],
        "previous": pack.get("previous") or {},
        "previous_words": section_words(pack.get("previous")),
        "metrics": metrics,
        "causes": causes,
        "windows": [window_row(w) for w in pack["period"].get("exception_windows") or []],
        "chart_data": {
            "metrics": charts,
            "causes": {
                "labels": [c["label"] for c in causes],
                "now": [c["count"] for c in causes],
                "previous": [c["previous"] for c in causes],
            },
        },
    }


def window_row(window: dict) -> dict:
    start, end = parse_datetime(window.get("start") or ""), parse_datetime(window.get("end") or "")
    scope = {"team": "all of the team's agreements", "agreement": "this agreement only"}
    return {
        **window,
        "start_at": start if start and end else None,
        "end_at": end if start and end else None,
        "scope_words": scope.get(window.get("scope"), window.get("scope", "")),
    }


def section_words(section: dict | None) -> str:
    if not section or not section.get("start"):
        return ""
    return period_in_words(
        date.fromisoformat(str(section["start"])), date.fromisoformat(str(section["end"]))
    )


def recommendation_rows(review: QuarterlyReview) -> list[dict]:
    grid = grid_of(review)
    # "Current" is the version in force now (an amendment may have been approved since
    # the review started); a completed review shows what it was compared with.
    active = rebased_of(review)["active"]
    in_force = TargetGrid.from_agreement(active).as_dict() if active is not None else None
    rows = []
    for rec in review.recommendations or []:
        business = grid.business(rec["priority"])
        current, recommended = rec.get("current_seconds"), rec.get("recommended_seconds")
        if in_force is not None:
            current = (in_force.get(rec["priority"]) or {}).get(rec["metric"])
        rows.append(
            {
                **rec,
                "metric_label": Metric(rec["metric"]).label
                if rec["metric"] in Metric.values
                else rec["metric"],
                "current": duration(current, business=business) if current else "best effort",
                "recommended": duration(recommended, business=business)
                if recommended
                else "no change",
                "changed": bool(recommended) and recommended != current,
                "tighter": bool(recommended and current) and recommended < current,
            }
        )
    order = {p: i for i, p in enumerate(Priority.values)}
    metric_order = {m: i for i, m in enumerate(Metric.values)}
    rows.sort(key=lambda r: (order.get(r["priority"], 9), metric_order.get(r["metric"], 9)))
    return rows


def what_if_context(review: QuarterlyReview, form: TargetsForm) -> dict:
    """Replay the proposed targets (the cells that parse) over the period's handoffs and
    put each beside what really happened."""
    if form.is_bound:
        form.is_valid()
        proposed = form.valid_targets()
    else:
        proposed = proposal(review)
    replayable = {
        priority: {m: s for m, s in row.items()} for priority, row in proposed.items() if row
    }
    replayed = whatif.replay(
        series=review.series,
        period_start=review.period_start,
        period_end=review.period_end,
        targets=replayable,
        tz=review.agreement.calendar.time_zone,
    )
    by_cell = {(r["priority"], r["metric"]): r for r in replayed}
    real = section_rows((review.pack or {}).get("period"))
    grid = grid_of(review)
    errors = form.errors if form.is_bound else {}
    rows = []
    for priority in form.priorities:
        business = grid.business(priority)
        cells = []
        for metric in Metric:
            name = f"{priority}_{metric.value}"
            result = by_cell.get((priority, metric.value), {})
            actual = real.get((priority, metric.value), {})
            target = proposed.get(priority, {}).get(metric.value)
            cells.append(
                {
                    "name": name,
                    "metric": metric.value,
                    "error": " ".join(errors.get(name, [])),
                    "target": duration(target, business=business) if target else "best effort",
                    "volume": result.get("volume", 0),
                    "met": result.get("met", 0),
                    "met_pct": result.get("met_pct"),
                    "met_pct_text": percent(result.get("met_pct")),
                    "has_real": bool(actual),
                    "real_pct_text": percent(actual.get("met_pct")),
                    "real_target": duration(actual.get("target_seconds"), business=business)
                    if actual.get("target_seconds")
                    else "",
                }
            )
        rows.append({"priority": priority, "cells": cells})
    return {"what_if_rows": rows, "metrics": list(Metric)}


def sides_of(review: QuarterlyReview) -> list[dict]:
    teams = [review.series.requesting_team, review.series.provider_team]
    leads: dict[int, list] = {}
    for m in Membership.objects.filter(team__in=teams, role=Role.LEAD).select_related("user"):
        leads.setdefault(m.team_id, []).append(m.user)
    signed = {s.team_id: s for s in review.sign_offs.all()}
    return [
        {"team": team, "sign_off": signed.get(team.pk), "leads": leads.get(team.pk, [])}
        for team in teams
    ]


def with_toggles(items, user, *, manage: bool) -> list[ActionItem]:
    """The items with whether the viewer may tick each off (`services.can_set_done`'s
    rule, without a query per item): the owner, or whoever manages the parent's items."""
    items = list(items)
    for item in items:
        item.can_toggle = manage or item.owner_id == user.pk
    return items


def teams_of(review: QuarterlyReview) -> list[Team]:
    return [review.series.provider_team, review.series.requesting_team]


def grid_rows(form: TargetsForm, review: QuarterlyReview) -> list[dict]:
    """The proposed-targets grid with each cell's recommended value as typed text, for
    the "fill in the recommendations" button."""
    recommended = {
        (r["priority"], r["metric"]): r.get("recommended_seconds")
        for r in review.recommendations or []
    }
    rows = form.rows()
    for row in rows:
        for cell in row["cells"]:
            seconds = recommended.get((row["priority"], cell["metric"]))
            cell["recommended"] = duration_input(seconds) if seconds else ""
    return rows
