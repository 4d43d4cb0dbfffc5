"""The compliance pack of a quarterly review: what really happened in the period, beside
the period before, per priority × metric — frozen as JSON when the review starts.

A period `[start, end)` is local dates in the zone of the reviewed agreement's calendar;
a handoff is in it when it was created in it, under any version of the series. Figures
come from `apps.handoffs.compliance` (computed in the database, a fixed number of queries
whatever the number of handoffs).

A section's "handoffs" counts every handoff created in the period, whatever became of it;
its rows count finished clocks only (met or breached), as every compliance figure does.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, Count, Q, QuerySet, Value, When

from apps.agreements.models import Agreement, AgreementSeries, ExceptionWindow, Metric
from apps.agreements.models import Status as AgreementStatus
from apps.agreements.targets import TargetGrid
from apps.handoffs.compliance import UNREVIEWED, breach_causes, clock_compliance
from apps.handoffs.models import Clock, Handoff

from .models import QuarterlyReview, RootCause
from .recommend import recommend

METRICS = tuple(Metric.values)
ROW_FIGURES = (
    "volume",
    "with_target",
    "met",
    "breached",
    "met_pct",
    "p50",
    "p80",
    "p95",
    "reopen_pct",
    "waiting_seconds_avg",
)


# --- periods -----------------------------------------------------------------------------


def _utc_bounds(tz: str, start: date, end: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    return tuple(
        datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) for day in (start, end)
    )


def period_bounds(*, agreement: Agreement, start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight at `start` and `end` in the agreement's zone."""
    return _utc_bounds(agreement.calendar.time_zone, start, end)


def series_zone(series: AgreementSeries) -> str:
    """The zone periods of a series are read in: its active version's calendar (else its
    latest version's)."""
    zone = (
        Agreement.objects.filter(series=series)
        .order_by(
            Case(When(status=AgreementStatus.ACTIVE, then=Value(0)), default=Value(1)),
            "-version",
        )
        .values_list("calendar__time_zone", flat=True)
        .first()
    )
    return zone or "UTC"


def period_clocks(
    *, series: AgreementSeries, start: date, end: date, tz: str | None = None
) -> QuerySet[Clock]:
    """Clocks of the series' handoffs created in `[start, end)` (local dates in `tz`,
    by default the series' zone — pass it to save the query that looks it up)."""
    since, until = _utc_bounds(tz or series_zone(series), start, end)
    # The clock's own copies (series; `started_at` is the handoff's creation): no join.
    return Clock.objects.filter(series=series, started_at__gte=since, started_at__lt=until)


def _add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier when negative), kept inside the month: 31 Dec
    − 3 months is 30 Sep, 29 Mar − 1 month is 28 Feb (a month has no 29 Feb most years)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period before: as many calendar months back when the period is whole months
    (1 Jan–1 Apr → 1 Oct–1 Jan), else as many days."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if start.day == end.day and start.day <= 28 and months > 0:
        return _add_months(start, -months), start
    return start - (end - start), start


# --- targets -----------------------------------------------------------------------------


def targets_of(agreement: Agreement) -> dict:
    """{"P1": {"acknowledge": 1800, "action_plan": 7200, "resolve": None}, …}"""
    return TargetGrid.from_agreement(agreement).as_dict()


# --- the pack ----------------------------------------------------------------------------


def _current_version(series: AgreementSeries) -> Agreement:
    return (
        Agreement.objects.filter(series=series)
        .select_related("calendar")
        .order_by(
            Case(When(status=AgreementStatus.ACTIVE, then=Value(0)), default=Value(1)),
            "-version",
        )
        .first()
    )


def _pairs(targets: dict, found) -> list[tuple[str, str]]:
    """Every priority × metric of the current targets, then any other the data holds
    (a priority an earlier version had)."""
    pairs = [(priority, metric) for priority in targets for metric in METRICS]
    return pairs + sorted(set(found) - set(pairs))


def _section(
    *,
    key: str,
    days: tuple[date, date],
    bounds,
    targets: dict,
    compliance,
    causes,
    handoffs,
    windows,
) -> dict:
    data = {(r["priority"], r["metric"]): r for r in compliance if r["period"] == key}
    rows = []
    for priority, metric in _pairs(targets, data):
        found = data.get((priority, metric))
        row = {
            "priority": priority,
            "metric": metric,
            "target_seconds": targets.get(priority, {}).get(metric),
        }
        row.update({name: found[name] if found else None for name in ROW_FIGURES})
        for count in ("volume", "with_target", "met", "breached"):
            row[count] = row[count] or 0
        row["paused_seconds_avg"] = (
            round(found["paused_seconds"] / found["volume"]) if found else None
        )
        rows.append(row)

    counted = {cause: 0 for cause in RootCause.values} | {UNREVIEWED: 0}
    for found in causes:
        if found["period"] == key:
            counted[found["root_cause"]] = counted.get(found["root_cause"], 0) + found["count"]

    since, until = bounds[key]
    return {
        "start": days[0].isoformat(),
        "end": days[1].isoformat(),
        "handoffs": handoffs[key],
        "rows": rows,
        "breach_causes": counted,
        "exception_windows": [
            {
                "start": w.start.isoformat(),
                "end": w.end.isoformat(),
                "reason": w.reason,
                "scope": "team" if w.series_id is None else "agreement",
            }
            for w in windows
            if w.start < until and w.end > since
        ],
    }


def _rates(rows) -> list[dict]:
    return [{key: row[key] for key in ("priority", "metric", "met_pct")} for row in rows]


def build_pack(
    *,
    review: QuarterlyReview | None = None,
    series: AgreementSeries | None = None,
    agreement: Agreement | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    now: datetime,
) -> dict:
    """The compliance pack of `[period_start, period_end)` and the period before, with the
    met % of the last three months (the tightening rule reads months); JSON-ready.
    Targets are the reviewed version's (`review.agreement`, else `agreement`, else the
    series' active version)."""
    if review is not None:
        series = series or review.series
        agreement = agreement or review.agreement
        period_start = period_start or review.period_start
        period_end = period_end or review.period_end
    if period_start is None or period_end is None or period_end <= period_start:
        raise ValueError("A pack needs a period: period_start before period_end.")
    if agreement is None:
        if series is None:
            raise ValueError("A pack needs a review, a series or an agreement.")
        agreement = _current_version(series)
    series = series or agreement.series
    tz = agreement.calendar.time_zone
    targets = targets_of(agreement)

    previous = previous_period(period_start, period_end)
    periods = {"period": (period_start, period_end), "previous": previous}
    bounds = {key: _utc_bounds(tz, *days) for key, days in periods.items()}

    # Handoffs of both periods in one query.
    counts = Handoff.objects.filter(
        agreement__series=series,
        created_at__gte=bounds["previous"][0],
        created_at__lt=bounds["period"][1],
    ).aggregate(
        **{
            key: Count("pk", filter=Q(created_at__gte=since, created_at__lt=until))
            for key, (since, until) in bounds.items()
        }
    )
    windows = list(
        ExceptionWindow.objects.approved()
        .filter(provider_team_id=series.provider_team_id)
        .filter(Q(series__isnull=True) | Q(series=series))
        .filter(start__lt=bounds["period"][1], end__gt=bounds["previous"][0])
        .order_by("start", "pk")
    )
    # One pass over the three periods' clocks for the figures, one over the breached ones
    # for their causes: the cost of a pack is reading the clocks, so each is read once.
    clocks = Clock.objects.filter(
        series=series,
        started_at__gte=bounds["previous"][0],
        started_at__lt=bounds["period"][1],
    )
    compliance = clock_compliance(
        clocks, group_by=("period", "priority", "metric"), tz=tz, periods=bounds
    )
    causes = breach_causes(
        clocks,
        group_by=("period",),
        tz=tz,
        periods={key: bounds[key] for key in ("previous", "period")},
    )
    sections = {
        key: _section(
            key=key,
            days=periods[key],
            bounds=bounds,
            targets=targets,
            compliance=compliance,
            causes=causes,
            handoffs=counts,
            windows=windows,
        )
        for key in ("period", "previous")
    }
    history = monthly_history(series=series, tz=tz, period_end=period_end)
    return {
        "built_at": now.astimezone(UTC).isoformat(),
        "agreement": {"id": agreement.pk, "version": agreement.version},
        "time_zone": tz,
        "targets": targets,
        "period": sections["period"],
        "previous": sections["previous"],
        "history": history,
    }


def last_months(period_end: date, count: int = 3) -> list[tuple[date, date]]:
    """The `count` months that end where the period ends, oldest first: [1 Jan, 1 Feb),
    [1 Feb, 1 Mar), [1 Mar, 1 Apr) for a period ending on 1 Apr (16 Dec–16 Jan, … for
    one ending on 16 Mar)."""
    return [
        (_add_months(period_end, -n), _add_months(period_end, 1 - n)) for n in range(count, 0, -1)
    ]


def monthly_history(*, series: AgreementSeries, tz: str, period_end: date) -> list[dict]:
    """Met % per priority × metric in each of the last three months of the period, oldest
    first (one query): what the tightening rule reads — three *months* at ≥ 95 %, however
    long the review period."""
    months = last_months(period_end)
    bounds = {f"m{i}": _utc_bounds(tz, *days) for i, days in enumerate(months)}
    clocks = Clock.objects.filter(
        series=series, started_at__gte=bounds["m0"][0], started_at__lt=bounds["m2"][1]
    )
    rows = clock_compliance(
        clocks, group_by=("period", "priority", "metric"), tz=tz, periods=bounds,
        percentiles=False,
    )  # fmt: skip
    return [
        {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "rows": _rates(r for r in rows if r["period"] == key and r["with_target"]),
        }
        for key, (start, end) in zip(bounds, months, strict=True)
    ]


def recommendations_for(*, agreement: Agreement, pack: dict) -> list[dict]:
    """`recommend()` on a pack with the agreement's targets, its calendar's floors and the
    buffer of `settings.REVIEW_BUFFER_PERCENT`."""
    grid = TargetGrid.from_agreement(agreement)
    return recommend(
        rows=pack["period"]["rows"],
        history=pack["history"],
        current_targets=grid.as_dict(),
        around_the_clock=grid.around_the_clock,
        buffer_percent=settings.REVIEW_BUFFER_PERCENT,
    )
