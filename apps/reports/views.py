"""`/reports/`: compliance over a chosen period, grouped and filtered, with its charts and
tables, and each table as CSV (`/reports/<table>.csv` with the same query string).

Figures are the signed-in user's view: only handoffs they may see count
(`apps.reports.report`). Dates and months are read in the user's time zone. Bad input
(unreadable dates, a start after the end, an unknown grouping) re-renders the form with
its messages and a 400, never an error page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from .exports import TABLES, causes_table, compliance_table, csv_response
from .exports import trend_table as trend_csv
from .forms import GROUPS, ReportForm, local_today, presets, user_zone
from .report import (
    CAUSES,
    METRICS,
    Namer,
    build_report,
    cause_rows,
    compliance_rows,
    report_clocks,
    trend_rows,
)


def _form(request: HttpRequest, tz: str) -> ReportForm:
    return ReportForm(request.GET, user=request.user, today=local_today(tz))


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    tz = user_zone(request.user)
    form = _form(request, tz)
    context = {
        "form": form,
        "tz": tz,
        "metrics": METRICS,
        "causes": CAUSES,
    }
    if not form.is_valid():
        return render(request, "reports/report.html", context, status=400)
    query = form.query()
    params = query.params()
    # Show the question as answered (defaults filled in), not as typed.
    form.data = params
    namer = Namer(teams=form.teams, agreements=form.agreements)
    report = build_report(user=request.user, query=query, tz=tz, namer=namer)
    base = {key: value for key, value in params.items() if key not in ("from", "to")}
    context.update(
        query=query,
        report=report,
        group_label=GROUPS[query.group_by],
        query_string=urlencode(params),
        presets=[
            {
                "preset": preset,
                "url": "?" + urlencode({**base, "from": preset.since, "to": preset.until}),
                "active": (preset.since, preset.until) == (query.since, query.until),
            }
            for preset in presets(local_today(tz))
        ],
        groupings=[
            {
                "key": key,
                "label": label,
                "url": "?" + urlencode({**params, "group_by": key}),
                "active": key == query.group_by,
            }
            for key, label in GROUPS.items()
        ],
        exports={
            table.replace("-", "_"): f"{reverse(f'reports:{table}-csv')}?{urlencode(params)}"
            for table in TABLES
        },
    )
    return render(request, "reports/report.html", context)


def _export(request: HttpRequest, table: str) -> HttpResponse:
    tz = user_zone(request.user)
    form = _form(request, tz)
    if not form.is_valid():
        lines = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
        return HttpResponse(
            "\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8"
        )
    query = form.query()
    namer = Namer(teams=form.teams, agreements=form.agreements)
    clocks = report_clocks(user=request.user, query=query, tz=tz)
    if table == "compliance":
        rows = compliance_table(
            compliance_rows(clocks, user=request.user, query=query, tz=tz, namer=namer),
            query.group_by,
        )
    elif table == "breach-causes":
        rows = causes_table(
            cause_rows(clocks, user=request.user, query=query, tz=tz, namer=namer), query.group_by
        )
    else:
        rows = trend_csv(trend_rows(clocks, user=request.user, query=query, tz=tz))
    by = "" if table == "trend" else f"-by-{query.group_by}"
    filename = f"{table}{by}-{query.since}-to-{query.until}.csv"
    return csv_response(rows, filename)


@require_GET
def compliance_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "compliance")


@require_GET
def causes_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "breach-causes")


@require_GET
def trend_csv_view(request: HttpRequest) -> HttpResponse:
    return _export(request, "trend")
