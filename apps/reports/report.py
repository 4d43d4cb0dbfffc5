"""The compliance report's tables, shared by the page, its CSV exports and the API.

Every figure counts the clocks of `Clock.objects.visible_to(user)` (the clocks of the
handoffs the user may see: an aggregate never counts another team's work), restricted to
the handoffs created in the period and to the filters. Compliance and the monthly trend
are read from the clock rollups (`apps.reports.rollups`: whole UTC months and days from
the rollup rows, the partial days at the ends from the clocks; percentiles rounded down
to the minute, to five minutes above 8 h), or, where the rollups cannot answer (other
databases than PostgreSQL), from the clocks by `apps.handoffs.compliance`; breach causes
from the clocks and their breach reviews (`rollups.breach_cause_counts` on PostgreSQL).
Three queries whatever the number of handoffs: compliance per group and metric, breach
causes per group, met % per month and metric — two grouping by month, where the trend
is read from the compliance table's figures. Group names (teams, agreement titles) come
from what the form already loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import QuerySet

from apps.agreements.durations import format_duration
from apps.agreements.models import Metric
from apps.handoffs.compliance import (
    UNREVIEWED,
    breach_causes,
    clock_compliance,
    met_words,
    percent_of,
)
from apps.handoffs.models import Clock
from apps.reviews.models import RootCause
from apps.teams.models import Team

from .forms import PRIORITY_LABELS, SEGMENT_LABELS, AgreementChoice, ReportQuery
from .rollups import Scope, breach_cause_counts, rollup_compliance

METRICS = list(Metric.choices)
METRIC_LABELS = dict(Metric.choices)
CAUSES = [*RootCause.choices, (UNREVIEWED, "Not reviewed yet")]
CAUSE_LABELS = dict(CAUSES)
PRIORITY_ORDER = list(PRIORITY_LABELS)
SEGMENT_ORDER = list(SEGMENT_LABELS)

# The figures of a compliance row, in the order the CSV and the API give them.
FIGURES = (
    "volume",
    "with_target",
    "best_effort",
    "met",
    "breached",
    "met_pct",
    "p50",
    "p80",
    "p95",
    "handoffs",
    "reopened",
    "reopen_pct",
    "waiting_seconds_avg",
    "paused_seconds",
)


def readable(seconds, *, business: bool = True) -> str:
    """3600 → '1 h' (business time: '1 business h'); 45 → '45 s'; None → '—'."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return format_duration(seconds, business=business)


def percent(value) -> str:
    return "—" if value is None else f"{value:.1f} %"


@dataclass
class Group:
    """One value of the grouping: its key fields (for CSV and JSON), label and order."""

    value: object
    fields: dict
    label: str
    order: tuple


@dataclass
class Namer:
    """Names group values from what the form loaded (no query)."""

    teams: dict[int, Team]
    agreements: dict[int, AgreementChoice]
    cache: dict = field(default_factory=dict)

    def __call__(self, group_by: str, value) -> Group:
        key = (group_by, value)
        if key not in self.cache:
            self.cache[key] = self._name(group_by, value)
        return self.cache[key]

    def _name(self, group_by: str, value) -> Group:
        if group_by == "team":
            team = self.teams.get(value)
            slug, name = (team.slug, team.name) if team else (str(value), f"Team #{value}")
            return Group(value, {"team": slug, "team_name": name}, name, (name.lower(),))
        if group_by == "agreement":
            choice = self.agreements.get(value)
            title = choice.title if choice else f"Agreement #{value}"
            return Group(
                value,
                {"agreement": value, "agreement_title": title},
                title,
                (title.lower(), value or 0),
            )
        if group_by == "priority":
            label = PRIORITY_LABELS.get(value, value or "—")
            order = PRIORITY_ORDER.index(value) if value in PRIORITY_ORDER else 99
            return Group(value, {"priority": value, "priority_label": label}, label, (order,))
        if group_by == "segment":
            label = SEGMENT_LABELS.get(value, value or "—")
            order = SEGMENT_ORDER.index(value) if value in SEGMENT_ORDER else 99
            return Group(value, {"segment": value, "segment_label": label}, label, (order,))
        # month: the first day of the local month
        label = value.strftime("%B %Y") if value else "—"
        month = value.strftime("%Y-%m") if value else ""
        return Group(value, {"month": month, "month_label": label}, label, (value or date.min,))


def report_clocks(*, user, query: ReportQuery, tz: str) -> QuerySet[Clock]:
    """The clocks of the handoffs the user may see, created in the period (local dates in
    `tz`), narrowed by the filters."""
    since, until = query.bounds(tz)
    clocks = Clock.objects.visible_to(user).filter(started_at__gte=since, started_at__lt=until)
    if query.provider_team:
        clocks = clocks.filter(provider_team=query.provider_team)
    if query.requesting_team:
        clocks = clocks.filter(requesting_team=query.requesting_team)
    if query.agreement:
        clocks = clocks.filter(series_id=query.agreement)
    if query.priority:
        clocks = clocks.filter(priority=query.priority)
    return clocks


def _scope(user, query: ReportQuery) -> Scope:
    return Scope.of(
        user,
        provider_team=query.provider_team.pk if query.provider_team else None,
        requesting_team=query.requesting_team.pk if query.requesting_team else None,
        series=query.agreement,
        priority=query.priority,
    )


def figures(
    clocks, *, user, query: ReportQuery, tz: str, group_by, percentiles: bool = True
) -> list[dict]:
    """`clock_compliance` rows of the report's clocks: from the rollups when they can
    answer, else from `clocks` (the same figures; percentiles from the rollups are
    rounded down to the minute, to five minutes above 8 h)."""
    since, until = query.bounds(tz)
    rows = rollup_compliance(
        scope=_scope(user, query),
        since=since,
        until=until,
        group_by=group_by,
        tz=tz,
        percentiles=percentiles,
        using=clocks.db,
    )
    if rows is None:
        rows = clock_compliance(clocks, group_by=group_by, tz=tz, percentiles=percentiles)
    return rows


def compliance_figures(clocks, *, user, query: ReportQuery, tz: str) -> list[dict]:
    """The figures per group and metric, as `compliance_rows` and (grouping by month)
    `trend_rows` read them."""
    return figures(clocks, user=user, query=query, tz=tz, group_by=(query.group_by, "metric"))


def compliance_rows(
    clocks, *, user, query: ReportQuery, tz: str, namer: Namer, rows: list[dict] | None = None
) -> list[dict]:
    """One row per group and metric: the group's key fields, `group` (its label), metric,
    metric_label and the figures (`FIGURES`), groups in their natural order (teams and
    agreements by name, priorities P1 first, months in time). `rows`: the
    `compliance_figures` already read."""
    if rows is None:
        rows = compliance_figures(clocks, user=user, query=query, tz=tz)
    metric_order = [m for m, _ in METRICS]
    result = []
    for row in rows:
        group = namer(query.group_by, row[query.group_by])
        result.append(
            {
                **group.fields,
                "group": group.label,
                "metric": row["metric"],
                "metric_label": METRIC_LABELS.get(row["metric"], row["metric"]),
                **{name: row[name] for name in FIGURES},
                # Whether its durations are plain time (every clock of it ran 24×7).
                "around_the_clock": row["around_the_clock"],
                "_order": (*group.order, metric_order.index(row["metric"])),
            }
        )
    result.sort(key=lambda r: r["_order"])
    for row in result:
        del row["_order"]
    return result


def cause_rows(clocks, *, user, query: ReportQuery, tz: str, namer: Namer) -> list[dict]:
    """Breached clocks per group and root cause (from their breach reviews; a breach
    nobody has reviewed yet counts as "unreviewed"), one row per group with a count per
    cause and the total."""
    since, until = query.bounds(tz)
    counted = breach_cause_counts(
        scope=_scope(user, query),
        since=since,
        until=until,
        group_by=(query.group_by,),
        tz=tz,
        using=clocks.db,
    )
    if counted is None:
        counted = breach_causes(clocks, group_by=(query.group_by,), tz=tz)
    groups: dict = {}
    for row in counted:
        group = namer(query.group_by, row[query.group_by])
        entry = groups.setdefault(
            group.value,
            {"_group": group, "counts": dict.fromkeys(CAUSE_LABELS, 0), "total": 0},
        )
        entry["counts"][row["root_cause"]] = (
            entry["counts"].get(row["root_cause"], 0) + row["count"]
        )
        entry["total"] += row["count"]
    result = []
    for entry in sorted(groups.values(), key=lambda e: e["_group"].order):
        group = entry["_group"]
        result.append(
            {
                **group.fields,
                "group": group.label,
                "counts": entry["counts"],
                # The counts in the order of CAUSES, for the page's table.
                "cells": [entry["counts"][cause] for cause, _ in CAUSES],
                "total": entry["total"],
            }
        )
    return result


def _months(since: date, until: date) -> list[date]:
    months, day = [], date(since.year, since.month, 1)
    while day <= until:
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def trend_rows(
    clocks, *, user, query: ReportQuery, tz: str, rows: list[dict] | None = None
) -> list[dict]:
    """Every month of the period (months without finished work too, so a chart's line
    shows the gap), with finished, met, breached and met % per metric. `rows`: figures
    per month and metric already read (the compliance table's, grouped by month)."""
    if rows is None:
        rows = figures(
            clocks, user=user, query=query, tz=tz, group_by=("month", "metric"), percentiles=False
        )
    found = {(row["month"], row["metric"]): row for row in rows}
    result = []
    for month in _months(query.since, query.until):
        metrics = {}
        for metric, _ in METRICS:
            row = found.get((month, metric), {})
            metrics[metric] = {
                "volume": row.get("volume", 0),
                "met": row.get("met", 0),
                "breached": row.get("breached", 0),
                "met_pct": row.get("met_pct"),
            }
        result.append(
            {
                "month": month.strftime("%Y-%m"),
                "month_label": month.strftime("%B %Y"),
                "metrics": metrics,
                # The metrics in the order of METRICS, for the page's table.
                "cells": [
                    {**metrics[metric], "met_pct_text": percent(metrics[metric]["met_pct"])}
                    for metric, _ in METRICS
                ],
            }
        )
    return result


def build_report(*, user, query: ReportQuery, tz: str, namer: Namer) -> dict:
    """The three tables and the charts' data for the page (three queries; two grouping
    by month, when the trend is the compliance table's figures)."""
    clocks = report_clocks(user=user, query=query, tz=tz)
    figures_read = compliance_figures(clocks, user=user, query=query, tz=tz)
    compliance = compliance_rows(
        clocks, user=user, query=query, tz=tz, namer=namer, rows=figures_read
    )
    groups = _grouped(compliance, query.group_by)
    causes = cause_rows(clocks, user=user, query=query, tz=tz, namer=namer)
    by_month = figures_read if query.group_by == "month" else None
    trend = trend_rows(clocks, user=user, query=query, tz=tz, rows=by_month)
    return {
        "compliance": compliance,
        "compliance_groups": groups,
        "causes": causes,
        "trend": trend,
        "charts": _charts(groups, causes, trend),
    }


def _grouped(rows: list[dict], group_by: str) -> list[dict]:
    """Compliance rows under their group (rows come group by group), with the page's
    readable durations and percentages, for a table with one block per group."""
    groups: list[dict] = []
    for row in rows:
        # The group's key field, not its label: two agreements may share a title.
        if not groups or groups[-1]["key"] != row[group_by]:
            groups.append({"key": row[group_by], "label": row["group"], "rows": []})
        business = not row["around_the_clock"]
        groups[-1]["rows"].append(
            {
                **row,
                "text": {
                    "met": met_words(row),
                    "met_pct": percent(row["met_pct"]),
                    "p50": readable(row["p50"], business=business),
                    "p80": readable(row["p80"], business=business),
                    "p95": readable(row["p95"], business=business),
                    "reopen_pct": percent(row["reopen_pct"]),
                    "waiting": readable(row["waiting_seconds_avg"], business=False),
                },
            }
        )
    for group in groups:
        # All metrics together, as the dashboard's tile counts a team's clocks.
        total = {
            key: sum(r[key] for r in group["rows"])
            for key in ("volume", "with_target", "best_effort", "met", "breached")
        }
        met_pct = percent_of(total["met"], total["met"] + total["breached"])
        group["total"] = {
            **total,
            "met_pct": met_pct,
            "text": {"met": met_words(total), "met_pct": percent(met_pct)},
        }
    return groups


def _charts(groups: list[dict], causes: list[dict], trend: list[dict]) -> dict:
    by_metric = [{row["metric"]: row for row in group["rows"]} for group in groups]
    return {
        "compliance": {
            "labels": [group["label"] for group in groups],
            "datasets": [
                {
                    "metric": metric,
                    "label": label,
                    "met_pct": [rows.get(metric, {}).get("met_pct") for rows in by_metric],
                }
                for metric, label in METRICS
            ],
        },
        "causes": {
            "labels": [row["group"] for row in causes],
            "datasets": [
                {"cause": cause, "label": label, "counts": [row["counts"][cause] for row in causes]}
                for cause, label in CAUSES
            ],
        },
        "trend": {
            "labels": [row["month_label"] for row in trend],
            "datasets": [
                {
                    "metric": metric,
                    "label": label,
                    "met_pct": [row["metrics"][metric]["met_pct"] for row in trend],
                }
                for metric, label in METRICS
            ],
        },
    }
