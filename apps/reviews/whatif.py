"""What-if replay: the compliance proposed targets would have had over the period's real
handoffs, by replaying each finished clock's recorded business-time duration
(`consumed_seconds`) against the proposed target of its priority × metric.

One SQL query over the clocks, whatever their number: grouped by priority × metric, with
a conditional count (CASE per priority × metric with its proposed target).
"""

from __future__ import annotations

from datetime import date

from django.db.models import Case, Count, IntegerField, Q, Value, When

from apps.agreements.models import AgreementSeries, Metric
from apps.handoffs.compliance import FINISHED

from .pack import period_clocks


def replay(
    *,
    series: AgreementSeries,
    period_start: date,
    period_end: date,
    targets: dict,
    tz: str | None = None,
) -> list[dict]:
    """Rows {priority, metric, target_seconds, volume, met, met_pct}, one per priority of
    `targets` × metric (plus any priority × metric of the data that `targets` lacks, with
    no target). `targets` as everywhere: {"P1": {"acknowledge": 1800, …}, …}; a None
    target is best effort: met and met_pct None. `tz` is the period's zone (by default the
    series', looked up in one more small query)."""
    proposed = {
        (priority, metric): seconds
        for priority, by_metric in targets.items()
        for metric, seconds in by_metric.items()
        if seconds is not None
    }
    target_of_row = Case(
        *(
            When(priority=priority, metric=metric, then=Value(seconds))
            for (priority, metric), seconds in proposed.items()
        ),
        default=Value(None),
        output_field=IntegerField(),
    )
    clocks = period_clocks(series=series, start=period_start, end=period_end, tz=tz)
    found = {
        (row["priority"], row["metric"]): row
        for row in clocks.order_by()
        .filter(status__in=FINISHED)
        .values("priority", "metric")
        .annotate(
            volume=Count("pk"),
            # Without a proposed target the CASE is NULL and the comparison never true.
            met=Count("pk", filter=Q(consumed_seconds__lte=target_of_row)),
        )
    }
    pairs = [(priority, metric) for priority in sorted(targets) for metric in Metric.values]
    pairs += sorted(set(found) - set(pairs))
    rows = []
    for priority, metric in pairs:
        target = targets.get(priority, {}).get(metric)
        volume = found.get((priority, metric), {}).get("volume", 0)
        met = found.get((priority, metric), {}).get("met", 0) if target is not None else None
        rows.append(
            {
                "priority": priority,
                "metric": metric,
                "target_seconds": target,
                "volume": volume,
                "met": met,
                "met_pct": round(100 * met / volume, 1) if met is not None and volume else None,
            }
        )
    return rows
