"""Compliance figures over SLA clocks, shared by reviews, the dashboard, reports and the API.

They live here, beside the clocks they read, so that every app above handoffs reads the
same figures without importing one another (breach causes follow the clock's
`breach_review` relation by name: reviews sits above and is never imported).

Everything is computed in the database, in one query whatever the number of clocks, on
SQLite and PostgreSQL alike. The population is *finished* clocks (met or breached):
cancelled clocks and clocks still running or paused are in no compliance figure.

Percentiles are nearest-rank: the value at rank ceil(p·n) of the ascending order of
`consumed_seconds`. PostgreSQL computes exactly that with `percentile_disc`. Its ceil(p·n)
is floating point, and for these p agrees with the exact rank — checked for n up to
3,000,000; a test pins n = 1…40. Elsewhere (SQLite) window functions number the rows of
each group (ROW_NUMBER and COUNT over it) and the aggregate picks the wanted rank
(`MAX(CASE WHEN rn = rank THEN …)`), ceil(p·n) written in integers as (a·n + b − 1) / b
with p = a/b, since SQLite lacks CEIL without its optional maths functions. Either way
one row per group comes back; the tests run on both.

Groups and the handoff counters are read from the clock's own copies of its handoff's
fields (Clock's docstring): the query reads the clock table alone, no join to the
handoffs (a third of a report's time at 1,000,000 handoffs; bench/reports.py).

On PostgreSQL the groups are hashed, not sorted: `percentile_disc … WITHIN GROUP` as the
group's aggregate would make the planner sort every finished clock by the group keys
(millions of rows: external merge sorts). Instead each group collects its consumed times
into an array (`array_agg`, a plain aggregate, so a HashAggregate) and `percentile_disc`
runs over that array alone: many small sorts instead of one huge one. The statement
carries its own `SET LOCAL`s, sent in the same round trip (psycopg's client-side binding,
Django's default, allows several statements in one execute; still one query): the memory
the arrays need, and no JIT, whose compilation costs more on these one-off aggregates
than it ever saves. The settings end with the statement's transaction (or with the
caller's, when called inside `atomic()`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Case, Count, DateField, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, NullIf, TruncMonth

from apps.handoffs.models import ClockStatus

GROUP_NAMES = ("metric", "priority", "team", "agreement", "segment", "month", "period")
FINISHED = (ClockStatus.MET, ClockStatus.BREACHED)
# p → (a, b) with p = a / b: the rank ceil(p·n) is (a·n + b − 1) / b in integer division.
PERCENTILES = {"p50": (1, 2), "p80": (4, 5), "p95": (19, 20)}
UNREVIEWED = "unreviewed"
# Per-statement settings of the PostgreSQL compliance query (see the module docstring).
# 64 MB keeps the arrays of about 3,000,000 clocks in memory (hash_mem_multiplier doubles
# it for hash nodes); bigger inputs spill to disk and stay correct, only slower.
POSTGRES_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; "

Periods = Mapping[str, tuple[datetime, datetime]]


def _groups(clocks: QuerySet, group_by: Sequence[str], tz: str, periods: Periods | None):
    """The clocks to group (restricted to the periods, if any) and the SQL expression of
    each group name under a `g_` alias (no clash with field names)."""
    unknown = [name for name in group_by if name not in GROUP_NAMES]
    if unknown:
        raise ValueError(f"Unknown group_by {unknown}; choose from {', '.join(GROUP_NAMES)}.")
    if len(set(group_by)) != len(group_by):
        raise ValueError(f"group_by names repeat: {list(group_by)}")
    if "period" in group_by and not periods:
        raise ValueError('Grouping by "period" needs the periods: {label: (since, until)}.')
    # The clock's own copies of its handoff's fields (Clock's docstring): no join to the
    # handoffs. `started_at` is the handoff's creation.
    expressions = {
        "metric": lambda: F("metric"),
        "priority": lambda: F("priority"),
        "team": lambda: F("provider_team_id"),
        "agreement": lambda: F("series_id"),
        "segment": lambda: F("customer_segment"),
        # The month of creation as the zone reads it, not UTC: a handoff filed at 00:30
        # on 1 April in Berlin (22:30 UTC on 31 March) belongs to April.
        "month": lambda: TruncMonth("started_at", tzinfo=ZoneInfo(tz), output_field=DateField()),
        # The period's position (an integer sorts and groups faster than its label).
        "period": lambda: Case(
            *(
                When(started_at__gte=since, started_at__lt=until, then=Value(index))
                for index, (since, until) in enumerate(periods.values())
            ),
            output_field=IntegerField(),
        ),
    }
    if periods:
        within = Q()
        for since, until in periods.values():
            within |= Q(started_at__gte=since, started_at__lt=until)
        clocks = clocks.filter(within)
    return clocks, {f"g_{name}": expressions[name]() for name in group_by}


def _as_date(value) -> date | None:
    # Raw cursors skip Django's converters: PostgreSQL returns a timestamp, SQLite text.
    if value is None or type(value) is date:
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _group_value(name: str, value, periods: Periods | None):
    if name == "month":
        return _as_date(value)
    if name == "period":
        return list(periods)[value]
    return value


def percent_of(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _int(value) -> int | None:
    return None if value is None else int(value)


def met_words(row: dict | None) -> str:
    """ "32 of 34 met" — a figure with its denominator (finished clocks with a target)."""
    if not row or not row.get("with_target"):
        return "no finished clock with a target"
    return f"{row['met']} of {row['with_target']} met"


def last_days_bounds(*, today: date, days: int, tz: str) -> tuple[datetime, datetime]:
    """The last `days` local dates in `tz`, today included, as [since, until) aware
    datetimes: the dashboard's tiles and the report's "Last 30 days" read the same
    window."""
    zone = ZoneInfo(tz)
    first = today - timedelta(days=days - 1)
    return tuple(
        datetime.combine(day, time(0), tzinfo=zone) for day in (first, today + timedelta(days=1))
    )


def clock_compliance(
    clocks: QuerySet,
    *,
    group_by: Sequence[str],
    tz: str = "UTC",
    percentiles: bool = True,
    periods: Periods | None = None,
) -> list[dict]:
    """Compliance of the finished clocks of `clocks`, one row per group, in one query.

    Group names: "metric", "priority", "team" (provider team id), "agreement" (series
    id), "segment", "month" (first day of the local month of the handoff's creation in
    `tz`, a date) and "period" (the label of the one of `periods`, {label: (since,
    until)} aware datetimes, the handoff was created in; handoffs of no period are left
    out — several periods compared in one pass; rows come in the order of `periods`).

    Each row: the group values under their names, and volume, with_target, met,
    breached, met_pct, p50, p80, p95 (business seconds), paused_seconds (sum), handoffs,
    reopened, reopen_pct, waiting_seconds_avg (per handoff), around_the_clock (every clock
    of the group ran 24×7, from its own copy of its tier's flag: its durations are plain
    time, not business time). `percentiles=False` skips the percentiles (None) for
    callers that need only rates. Sorted by the group values.
    """
    group_by = tuple(group_by)
    clocks, groups = _groups(clocks, group_by, tz, periods)
    inner = (
        clocks.order_by()
        .filter(status__in=FINISHED)
        .annotate(
            **groups,
            x_handoff=F("handoff_id"),
            x_status=F("status"),
            x_target=F("target_seconds"),
            x_consumed=F("consumed_seconds"),
            x_paused=F("paused_seconds"),
            x_reopen=F("handoff_reopen_count"),
            x_waiting=F("handoff_waiting_seconds"),
            x_24x7=Case(
                When(around_the_clock=True, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .values(
            *groups,
            # Needed only to count handoffs once when several of their clocks share a group.
            *(() if "metric" in group_by else ("x_handoff",)),
            "x_status",
            "x_target",
            "x_consumed",
            "x_paused",
            "x_reopen",
            "x_waiting",
            "x_24x7",
        )
    )
    connection = connections[clocks.db]
    ordered_aggregate = connection.vendor == "postgresql"
    inner_sql, inner_params = inner.query.sql_with_params()
    q = connection.ops.quote_name
    keys = [q(alias) for alias in groups]
    partition = f"PARTITION BY {', '.join(keys)}" if keys else ""

    windows = []
    if percentiles and not ordered_aggregate:
        windows += [
            f"ROW_NUMBER() OVER ({partition} ORDER BY {q('x_consumed')}) AS {q('x_rn')}",
            f"COUNT(*) OVER ({partition}) AS {q('x_n')}",
        ]
    if "metric" in group_by:
        # A handoff has one clock per metric: within a group each row is another handoff.
        windows.append(f"1 AS {q('x_first')}")
    else:
        # Count each handoff once per group although up to three of its clocks are in it.
        windows.append(
            f"ROW_NUMBER() OVER (PARTITION BY {', '.join([*keys, q('x_handoff')])}) "
            f"AS {q('x_first')}"
        )

    first = f"{q('x_first')} = 1"
    columns = [
        "COUNT(*)",
        f"SUM(CASE WHEN {q('x_target')} IS NOT NULL THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {q('x_target')} IS NOT NULL AND {q('x_status')} = %s THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {q('x_status')} = %s THEN 1 ELSE 0 END)",
        f"SUM({q('x_paused')})",
        f"SUM(CASE WHEN {first} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {first} AND {q('x_reopen')} > 0 THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {first} THEN {q('x_waiting')} ELSE 0 END)",
        f"MIN({q('x_24x7')})",
    ]
    if percentiles and ordered_aggregate:
        fractions = ", ".join(str(a / b) for a, b in PERCENTILES.values())
        # The group's own values, sorted apart from every other group's (module docstring).
        columns.append(
            f"(SELECT percentile_disc(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {q('v')}) "  # noqa: S608
            f"FROM unnest(array_agg({q('x_consumed')})) AS {q('v')})"
        )
    elif percentiles:
        for a, b in PERCENTILES.values():
            rank = f"({a} * {q('x_n')} + {b - 1}) / {b}"
            columns.append(f"MAX(CASE WHEN {q('x_rn')} = {rank} THEN {q('x_consumed')} END)")
    # Placeholders in text order: these two come before the inner query's.
    params = [ClockStatus.MET.value, ClockStatus.BREACHED.value, *inner_params]
    # Only fixed aliases and numbers are spliced in; values travel as parameters.
    sql = (
        f"SELECT {', '.join([*keys, *columns])} FROM ("  # noqa: S608
        f"SELECT {q('b')}.*, {', '.join(windows)} FROM ({inner_sql}) {q('b')}"
        f") {q('r')}"
    )
    if keys:
        sql += f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    if ordered_aggregate:
        sql = POSTGRES_SETTINGS + sql

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # The SETs come back as result sets of their own: step to the SELECT's.
        while cursor.description is None and cursor.nextset():
            pass
        fetched = cursor.fetchall()

    rows = []
    width = len(group_by)
    for record in fetched:
        volume, with_target, met, breached, paused, handoffs, reopened, waiting, all_24x7 = map(
            _int, record[width : width + 9]
        )
        if not volume:
            continue  # no group keys and no finished clocks: the empty aggregate row
        rest = record[width + 9 :]
        if not percentiles:
            p50 = p80 = p95 = None
        elif ordered_aggregate:
            p50, p80, p95 = map(_int, rest[0])
        else:
            p50, p80, p95 = map(_int, rest)
        row = {
            name: _group_value(name, value, periods)
            for name, value in zip(group_by, record, strict=False)
        }
        row.update(
            volume=volume,
            with_target=with_target,
            met=met,
            breached=breached,
            # One definition everywhere: met % is of the finished clocks *with a target*
            # (`with_target`, the denominator shown beside it); best-effort clocks are
            # finished too but counted apart, never in the percentage.
            best_effort=volume - with_target,
            met_pct=percent_of(met, met + breached),
            p50=p50,
            p80=p80,
            p95=p95,
            paused_seconds=paused or 0,
            handoffs=handoffs,
            reopened=reopened,
            reopen_pct=percent_of(reopened, handoffs),
            waiting_seconds_avg=round(waiting / handoffs) if handoffs else None,
            around_the_clock=bool(all_24x7),
        )
        rows.append(row)
    return rows


def breach_causes(
    clocks: QuerySet,
    *,
    group_by: Sequence[str] = (),
    tz: str = "UTC",
    periods: Periods | None = None,
) -> list[dict]:
    """Breached clocks of `clocks` counted by the root cause of their breach review, in one
    query: rows of the group values (names as for `clock_compliance`) + "root_cause" (a
    RootCause value, or "unreviewed" for a breach nobody has reviewed yet) + "count".
    Sorted by the group values and the cause."""
    group_by = tuple(group_by)
    clocks, groups = _groups(clocks, group_by, tz, periods)
    cause = Coalesce(NullIf(F("breach_review__root_cause"), Value("")), Value(UNREVIEWED))
    rows = (
        clocks.order_by()
        .filter(status=ClockStatus.BREACHED)
        .annotate(**groups, x_cause=cause)
        .values(*groups, "x_cause")
        .annotate(x_count=Count("pk"))
        .order_by(*groups, "x_cause")
    )
    return [
        {
            **{name: _group_value(name, row[f"g_{name}"], periods) for name in group_by},
            "root_cause": row["x_cause"],
            "count": row["x_count"],
        }
        for row in rows
    ]
