"""CSV exports of the report's tables: a header row, then the figures the page shows —
raw numbers (seconds, counts, percentages) for spreadsheets beside the readable ones
the page prints."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import HttpResponse

from .report import CAUSES, METRICS, readable

GROUP_COLUMNS = {
    "team": ["team", "team_name"],
    "agreement": ["agreement", "agreement_title"],
    "priority": ["priority", "priority_label"],
    "segment": ["segment", "segment_label"],
    "month": ["month", "month_label"],
}
TABLES = {
    "compliance": "Compliance",
    "breach-causes": "Breach causes",
    "trend": "Trend by month",
}


def _number(value) -> str:
    return "" if value is None else str(value)


def compliance_table(rows: list[dict], group_by: str) -> Iterable[list[str]]:
    yield [
        *GROUP_COLUMNS[group_by],
        "metric",
        "metric_label",
        "volume",
        "with_target",
        "best_effort",
        "met",
        "breached",
        "met_pct",
        "p50_seconds",
        "p50",
        "p80_seconds",
        "p80",
        "p95_seconds",
        "p95",
        "handoffs",
        "reopened",
        "reopen_pct",
        "waiting_seconds_avg",
        "waiting_avg",
        "paused_seconds",
    ]
    for row in rows:
        business = not row["around_the_clock"]
        yield [
            *(_number(row[c]) for c in GROUP_COLUMNS[group_by]),
            row["metric"],
            row["metric_label"],
            *(
                _number(row[name])
                for name in ("volume", "with_target", "best_effort", "met", "breached", "met_pct")
            ),
            _number(row["p50"]),
            readable(row["p50"], business=business),
            _number(row["p80"]),
            readable(row["p80"], business=business),
            _number(row["p95"]),
            readable(row["p95"], business=business),
            *(_number(row[name]) for name in ("handoffs", "reopened", "reopen_pct")),
            _number(row["waiting_seconds_avg"]),
            readable(row["waiting_seconds_avg"], business=False),
            _number(row["paused_seconds"]),
        ]


def causes_table(rows: list[dict], group_by: str) -> Iterable[list[str]]:
    yield [*GROUP_COLUMNS[group_by], *(cause for cause, _ in CAUSES), "total"]
    for row in rows:
        yield [
            *(_number(row[c]) for c in GROUP_COLUMNS[group_by]),
            *(str(row["counts"][cause]) for cause, _ in CAUSES),
            str(row["total"]),
        ]


def trend_table(rows: list[dict]) -> Iterable[list[str]]:
    yield [
        "month",
        "month_label",
        *(
            f"{metric}_{figure}"
            for metric, _ in METRICS
            for figure in ("volume", "met", "breached", "met_pct")
        ),
    ]
    for row in rows:
        yield [
            row["month"],
            row["month_label"],
            *(
                _number(row["metrics"][metric][figure])
                for metric, _ in METRICS
                for figure in ("volume", "met", "breached", "met_pct")
            ),
        ]


# A cell starting with one of these is a formula to a spreadsheet: a team or agreement
# named "=HYPERLINK(…)" must stay text (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_START) else cell


def csv_response(table: Iterable[list[str]], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerows([_safe(cell) for cell in row] for row in table)
    return response
