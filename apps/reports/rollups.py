"""Compliance figures from the clock rollups (apps.handoffs.models.ClockRollup): the same
rows as `apps.handoffs.compliance.clock_compliance`, read from thousands of rollup rows
instead of millions of clocks.

The period [since, until) is read a UTC month at a time (`plan`):
- a month mostly in the period: its month row (without the segment, or — grouping by
  segment — without the priority), less the day rows and partial days outside;
- otherwise its whole UTC days from the day rows, and the partial days at the period's
  ends (bounds that are not UTC midnights: a viewer east or west of UTC) from the
  finished clocks themselves, by the `clock_finished_started_idx` index;
- grouping by month, a local month starts inside a UTC day: outside a month row that
  day comes from the clocks; inside one, its hours in the neighbouring local month are
  read from the clocks and taken back out of the row's month.
Everything is added up, with signs, in one statement: counts and sums, and each
group's nearest-rank p50/p80/p95 (the first bucket whose running count reaches
ceil(p·n): the exact percentile rounded down to the minute below 8 h, to five minutes
above — `clockwork.rollups`), found in two steps: the rows' binned histograms (`bins`,
30 buckets each) merged give the bin each percentile falls in and the count below it;
then only that bin's buckets are read from each row (a slice of its sparse, ascending
buckets found by binary search) and merged. Merging every bucket of every row instead
read 600,000 histogram entries for a staff year at 1,000,000 handoffs; the two steps
read about a tenth (bench/reports.py).

A handoff counts once per group on its first finished clock (`handoffs` columns), so
groupings without the metric need no numbering of each handoff's clocks.

Falls back (returns None; the caller reads the clocks): databases other than
PostgreSQL, and groupings the rollups do not hold ("period"). Every report filter
(provider and requesting team, agreement, priority) and the viewer's visibility are
columns of the rollups. Grouping by segment with a priority filter reads day rows
instead of month rows (the month rows hold either the segment or the priority).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connections, router

from apps.handoffs.clockwork.rollups import BIN, COUNTERS, bucket_seconds, bucket_sql
from apps.handoffs.compliance import UNREVIEWED, percent_of
from apps.handoffs.models import ALL, Clock, ClockRollup
from apps.reviews.models import BreachReview
from apps.teams.models import Team

ROLLUP_GROUPS = ("metric", "priority", "team", "agreement", "segment", "month")
# p → (a, b), p = a / b: the value at rank ceil(p·n) is the first whose running count c
# has b·c ≥ a·n (c is an integer).
PERCENTILES = {"p50": (1, 2), "p80": (4, 5), "p95": (19, 20)}
SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; "


@dataclass(frozen=True)
class Scope:
    """Whose clocks and which: the viewer (None: everyone's) and the report's filters."""

    team_ids: tuple[int, ...] | None = None  # the viewer's teams; None for staff
    provider_team: int | None = None
    requesting_team: int | None = None
    series: int | None = None
    priority: str | None = None

    @classmethod
    def of(cls, user, **filters) -> Scope:
        """What `Clock.objects.visible_to(user)` shows, narrowed by the filters."""
        if not user.is_authenticated:
            return cls(team_ids=(), **filters)
        if user.is_staff:
            return cls(**filters)
        mine = Team.objects.filter(memberships__user=user).values_list("pk", flat=True)
        return cls(team_ids=tuple(mine), **filters)


@dataclass
class Plan:
    """Where each part of the period is read from: month rows and day rows added,
    clocks added (`exact`); day rows and clocks taken back out of a month row
    (`minus_days`, `corrections`: [start, end) and the local month the row counted
    them in)."""

    months: list[date] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    exact: list[tuple[datetime, datetime]] = field(default_factory=list)
    minus_days: list[date] = field(default_factory=list)
    corrections: list[tuple[datetime, datetime, date]] = field(default_factory=list)


# A month row costs about as much to read as this many day rows: a month partly in the
# period is read from its row minus the days outside when that is cheaper.
ROW_COST_DAYS = 7


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _local_month(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date().replace(day=1)


def row_month(first: date, tz: str) -> date:
    """The local month a UTC month's row counts in: that of its 15th at noon (a zone's
    month starts within a day of UTC's, so that is the local month of all but the hours
    around its ends)."""
    return _local_month(datetime.combine(first.replace(day=15), time(12), tzinfo=UTC), tz)


def _month_starts(since: datetime, until: datetime, tz: str) -> list[datetime]:
    """The local month starts strictly inside (since, until)."""
    zone = ZoneInfo(tz)
    local = since.astimezone(zone)
    day = date(local.year, local.month, 1)
    starts = []
    while True:
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        moment = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        if moment >= until:
            return starts
        if moment > since:
            starts.append(moment)


def _add(pieces: list, piece: tuple) -> None:
    """Append [start, end), joined to the last piece when they touch."""
    if pieces and pieces[-1][1] == piece[0]:
        pieces[-1] = (pieces[-1][0], piece[1])
    else:
        pieces.append(piece)


def plan(
    since: datetime, until: datetime, *, tz: str, by_month: bool, month_rows: bool = True
) -> Plan:
    """Cut [since, until) into rows and exact slices, a UTC month at a time.

    A UTC month mostly in the period is read from its row, less the day rows and the
    partial days outside the period; otherwise from its day rows and, for its partial
    days, the clocks. Grouping by month, a local month starts inside a UTC day: outside a
    month row such a day is read from the clocks; inside one, its hours in another local
    month than the row's are added from the clocks and taken back out of the row's."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    starts = _month_starts(since, until, tz) if by_month else []
    result = Plan()
    first = since.date().replace(day=1)
    while _midnight(first) < until:
        following = (first + timedelta(days=32)).replace(day=1)
        days = [first + timedelta(days=i) for i in range((following - first).days)]
        span = {day: (_midnight(day), _midnight(day + timedelta(days=1))) for day in days}
        inside = [d for d in days if span[d][0] >= since and span[d][1] <= until]
        outside = [d for d in days if span[d][1] <= since or span[d][0] >= until]
        use_row = month_rows and len(outside) + ROW_COST_DAYS < len(inside)
        counted = row_month(first, tz)
        if use_row:
            result.months.append(first)
        for day in days:
            start, end = span[day]
            if day in outside:
                if use_row:
                    result.minus_days.append(day)
                continue
            low, high = max(start, since), min(end, until)
            cuts = [cut for cut in starts if low < cut < high]
            if not use_row:
                if day in inside and not cuts:
                    result.days.append(day)
                else:
                    _add(result.exact, (low, high))
                continue
            for a, b in ((start, low), (high, end)):
                if a < b:  # the part of a partial day outside the period
                    result.corrections.append((a, b, counted))
            if by_month:
                for a, b in itertools.pairwise([low, *cuts, high]):
                    if _local_month(a, tz) != counted:
                        _add(result.exact, (a, b))
                        result.corrections.append((a, b, counted))
        first = following
    result.exact.sort()
    return result


def _scope_sql(scope: Scope, columns: dict[str, str]) -> tuple[list[str], list]:
    """WHERE conditions (and their parameters) of a scope over a source's columns."""
    where, params = [], []
    if scope.team_ids is not None:
        where.append(
            f"({columns['team']} = ANY(%s::int[]) OR {columns['requester']} = ANY(%s::int[]))"
        )
        params += [list(scope.team_ids), list(scope.team_ids)]
    for name, value in (
        ("team", scope.provider_team),
        ("requester", scope.requesting_team),
        ("agreement", scope.series),
        ("priority", scope.priority),
    ):
        if value is not None:
            where.append(f"{columns[name]} = %s")
            params.append(value)
    return where, params


# Counter columns of the union, in order: the rollup's columns (clockwork.rollups.COUNTERS),
# and the same for one clock.


def rollup_compliance(
    *,
    scope: Scope,
    since: datetime,
    until: datetime,
    group_by: Sequence[str],
    tz: str = "UTC",
    percentiles: bool = True,
    using: str | None = None,
) -> list[dict] | None:
    """`clock_compliance` of the finished clocks in `scope` whose handoff was created in
    [since, until), grouped by `group_by`, from the rollups; None when they cannot
    answer (see the module docstring)."""
    group_by = tuple(group_by)
    using = using or router.db_for_read(Clock)
    connection = connections[using]
    if connection.vendor != "postgresql" or any(g not in ROLLUP_GROUPS for g in group_by):
        return None
    by_segment = "segment" in group_by
    needs_priority = "priority" in group_by or scope.priority is not None
    where_plan = plan(
        since,
        until,
        tz=tz,
        by_month="month" in group_by,
        month_rows=not (by_segment and needs_priority),
    )
    sql, params = _statement(where_plan, scope, group_by, tz, percentiles, by_segment)
    with connection.cursor() as cursor:
        cursor.execute(SETTINGS + sql, params)
        while cursor.description is None and cursor.nextset():
            pass
        fetched = cursor.fetchall()
    rows = (_row(record, group_by, percentiles) for record in fetched)
    return [row for row in rows if row is not None]


def breach_cause_counts(
    *,
    scope: Scope,
    since: datetime,
    until: datetime,
    group_by: Sequence[str],
    tz: str = "UTC",
    using: str | None = None,
) -> list[dict] | None:
    """`breach_causes` of the breached clocks in `scope` whose handoff was created in
    [since, until): the same rows (sorted by group values, then cause), on PostgreSQL;
    None elsewhere or for groupings the rollups do not hold (the caller reads
    `breach_causes`).

    The reviews are not in the rollups, but the breaches are: each group's breaches come
    from the rollups, the reviewed ones by cause from the reviews joined to their
    clocks, and the rest are the unreviewed. Joining only the reviewed breaches (and
    the viewer's teams as an array, not a membership subquery on each side of an OR)
    lets the planner hash the join: 0.98 → 0.37 s for a lead's year at 1,000,000
    handoffs, load 5.5, where the ORM's outer join of every breach took 0.7 s unloaded
    (bench/reports.py)."""
    group_by = tuple(group_by)
    totals = rollup_compliance(
        scope=scope,
        since=since,
        until=until,
        group_by=(*group_by, "metric"),
        tz=tz,
        percentiles=False,
        using=using,
    )
    if totals is None or "metric" in group_by:
        return None
    breached: dict[tuple, int] = {}
    for row in totals:
        key = tuple(row[name] for name in group_by)
        breached[key] = breached.get(key, 0) + row["breached"]
    columns = {
        "metric": "c.metric",
        "priority": "c.priority",
        "team": "c.provider_team_id",
        "agreement": "c.series_id",
        "segment": "c.customer_segment",
        "month": "date_trunc('month', c.started_at AT TIME ZONE %s)::date",
    }
    where, scope_params = _scope_sql(
        scope,
        {
            "team": "c.provider_team_id",
            "requester": "c.requesting_team_id",
            "agreement": "c.series_id",
            "priority": "c.priority",
        },
    )
    keys = [columns[name] for name in group_by]
    positions = ", ".join(str(i + 1) for i in range(len(keys) + 1))
    sql = (
        f"SELECT {''.join(f'{key}, ' for key in keys)}r.root_cause, COUNT(*) "  # noqa: S608
        f"FROM {BreachReview._meta.db_table} AS r "
        f"JOIN {Clock._meta.db_table} AS c ON c.id = r.clock_id "
        "WHERE c.status = 'breached' AND c.started_at >= %s AND c.started_at < %s"
        + "".join(f" AND {w}" for w in where)
        + f" GROUP BY {positions}"
    )
    params = [tz] * ("month" in group_by) + [since, until] + scope_params
    with connections[using or router.db_for_read(Clock)].cursor() as cursor:
        cursor.execute(SETTINGS + sql, params)
        while cursor.description is None and cursor.nextset():
            pass
        fetched = cursor.fetchall()
    width = len(group_by)
    counts: dict[tuple, int] = {}
    for record in fetched:
        key, cause = tuple(record[:width]), record[width] or UNREVIEWED
        counts[key, cause] = counts.get((key, cause), 0) + record[width + 1]
        breached[key] = breached.get(key, 0) - record[width + 1]
    for key, left in breached.items():
        if left:
            counts[key, UNREVIEWED] = counts.get((key, UNREVIEWED), 0) + left
    return [
        {**dict(zip(group_by, key, strict=True)), "root_cause": cause, "count": count}
        for (key, cause), count in sorted(counts.items(), key=_cause_order)
    ]


def _cause_order(item) -> tuple:
    """Group values, then cause: as the database sorts them (None last)."""
    (key, cause), _ = item
    return (*((value is None, value) for value in key), cause)


def _group_sql(group_by, *, rollup: bool, tz_param: str, row_month: bool = False) -> list[str]:
    """The group keys' SQL, text in the "C" collation: the histogram is sorted by them,
    and byte order sorts these codes as the database's collation does, only faster."""
    if rollup:
        columns = {
            "metric": 'metric COLLATE "C"',
            "priority": 'priority COLLATE "C"',
            "team": "provider_team_id",
            "agreement": "series_id",
            "segment": 'customer_segment COLLATE "C"',
            # A day row has no local month start inside: the local month of its first
            # moment. A month row: the local month it counts in (`row_month`).
            "month": "date_trunc('month', (CASE WHEN grain = 'month' THEN "
            "(day + 14)::timestamp + interval '12 hours' ELSE day::timestamp END) "
            f"AT TIME ZONE 'UTC' AT TIME ZONE {tz_param})::date",
        }
        if row_month:
            # Day rows taken back out of their UTC month's row: under the row's month.
            columns["month"] = (
                "date_trunc('month', (date_trunc('month', day::timestamp) "
                "+ interval '14 days 12 hours') "
                f"AT TIME ZONE 'UTC' AT TIME ZONE {tz_param})::date"
            )
    else:
        columns = {
            "metric": 'c.metric COLLATE "C"',
            "priority": 'c.priority COLLATE "C"',
            "team": "COALESCE(c.provider_team_id, 0)",
            "agreement": "COALESCE(c.series_id, 0)",
            "segment": 'c.customer_segment COLLATE "C"',
            "month": f"date_trunc('month', c.started_at AT TIME ZONE {tz_param})::date",
        }
    return [f"{columns[name]} AS g_{name}" for name in group_by]


def _clocks(pieces, scope: Scope, group_by, tz: str, *, sign: int = 1, month: date | None = None):
    """Finished clocks created in `pieces` as rows of the union, one each (times `sign`;
    grouped under `month` rather than their own local month, when given)."""
    clock_table = Clock._meta.db_table
    where, scope_params = _scope_sql(
        scope,
        {
            "team": "c.provider_team_id",
            "requester": "c.requesting_team_id",
            "agreement": "c.series_id",
            "priority": "c.priority",
        },
    )
    slices = " OR ".join(["(c.started_at >= %s AND c.started_at < %s)"] * len(pieces))
    # Whether the clock counts its handoff (its first finished clock by metric): only
    # groupings without the metric read it (`_row`).
    first = "c.x_first" if "metric" not in group_by else "false"
    reopened = "(c.handoff_reopen_count > 0)::int"
    counters = [
        "1",
        "(c.target_seconds IS NOT NULL)::int",
        "(c.target_seconds IS NOT NULL AND c.status = 'met')::int",
        "(c.status = 'breached')::int",
        "c.around_the_clock::int",
        "c.paused_seconds",
        reopened,
        "c.handoff_waiting_seconds",
        f"({first})::int",
        f"CASE WHEN {first} THEN {reopened} ELSE 0 END",
        f"CASE WHEN {first} THEN c.handoff_waiting_seconds ELSE 0 END",
    ]
    groups = _group_sql(group_by, rollup=False, tz_param="%s")
    group_params = [tz] * ("month" in group_by)
    if month is not None and "month" in group_by:
        groups[group_by.index("month")] = "%s::date AS g_month"
        group_params = [month]
    select = [
        *groups,
        *counters,
        f"ARRAY[{bucket_sql('c.consumed_seconds')}]",
        "ARRAY[1]",
        f"ARRAY[({bucket_sql('c.consumed_seconds')}) / {BIN}]",
        "ARRAY[1]",
        str(sign),
    ]
    first_sql = (
        f"NOT EXISTS (SELECT 1 FROM {clock_table} AS o WHERE o.handoff_id = c.handoff_id "  # noqa: S608
        "AND o.status IN ('met', 'breached') AND o.metric < c.metric)"
        if "metric" not in group_by
        else "false"
    )
    # OFFSET 0 keeps the subquery whole: pulled up, its EXISTS would run once for each
    # of the three counters that read it.
    sql = (
        f"SELECT {', '.join(select)} FROM (SELECT c.*, {first_sql} AS x_first "  # noqa: S608
        f"FROM {clock_table} AS c WHERE c.status IN ('met', 'breached') AND ({slices})"
        + "".join(f" AND {w}" for w in where)
        + " OFFSET 0) AS c"
    )
    return sql, group_params + [moment for piece in pieces for moment in piece] + scope_params


def _rollups(rows: str, rows_params: list, scope: Scope, group_by, tz: str, *, sign: int = 1):
    """Rollup rows (`rows`: a condition) as rows of the union, times `sign` (taken back:
    under their UTC month row's local month)."""
    where, scope_params = _scope_sql(
        scope,
        {
            "team": "provider_team_id",
            "requester": "requesting_team_id",
            "agreement": "series_id",
            "priority": "priority",
        },
    )
    groups = _group_sql(group_by, rollup=True, tz_param="%s", row_month=sign < 0)
    select = [*groups, *COUNTERS, "buckets", "counts", "bins", "bin_counts", str(sign)]
    sql = (
        f"SELECT {', '.join(select)} FROM {ClockRollup._meta.db_table} "  # noqa: S608
        f"WHERE ({rows})" + "".join(f" AND {w}" for w in where) + " AND volume <> 0"
    )
    return sql, [tz] * ("month" in group_by) + rows_params + scope_params


def _statement(where_plan: Plan, scope, group_by, tz, percentiles, by_segment):
    keys = [f"g_{name}" for name in group_by]
    parts, params = [], []

    # The rollup rows: month rows of the right kind and day rows, added; and day rows
    # taken back out of a month row.
    added, added_params = [], []
    if where_plan.months:
        dropped = "priority" if by_segment else "customer_segment"
        added.append(f"(grain = 'month' AND {dropped} = %s AND day = ANY(%s::date[]))")
        added_params += [ALL, where_plan.months]
    if where_plan.days:
        added.append("(grain = 'day' AND day = ANY(%s::date[]))")
        added_params.append(where_plan.days)
    if added:
        part, part_params = _rollups(" OR ".join(added), added_params, scope, group_by, tz)
        parts.append(part)
        params += part_params
    if where_plan.minus_days:
        part, part_params = _rollups(
            "grain = 'day' AND day = ANY(%s::date[])",
            [where_plan.minus_days],
            scope,
            group_by,
            tz,
            sign=-1,
        )
        parts.append(part)
        params += part_params

    # The exact slices: finished clocks, one row each; and those taken back out of the
    # local month a month row counted them in.
    if where_plan.exact:
        part, part_params = _clocks(where_plan.exact, scope, group_by, tz)
        parts.append(part)
        params += part_params
    taken_back: dict[date, list] = {}
    for a, b, month in where_plan.corrections:
        taken_back.setdefault(month, []).append((a, b))
    for month, pieces in taken_back.items():
        part, part_params = _clocks(pieces, scope, group_by, tz, sign=-1, month=month)
        parts.append(part)
        params += part_params

    if not parts:
        return "SELECT 1 WHERE false", []
    # Only fixed column names and aliases are spliced in; values travel as parameters.
    lead = "".join(f"{key}, " for key in keys)  # the group keys before other columns
    group = f"GROUP BY {', '.join(keys)}" if keys else ""
    partition = f"PARTITION BY {', '.join(keys)}" if keys else ""
    order = f"ORDER BY {', '.join(f't.{key}' for key in keys)}" if keys else ""
    sums = ", ".join(f"SUM(sign * {name}) AS {name}" for name in COUNTERS)
    src = ", ".join([*keys, *COUNTERS, "buckets", "counts", "bins", "bin_counts", "sign"])

    def same(a: str, b: str) -> str:
        return " AND ".join([f"{a}.{key} = {b}.{key}" for key in keys] or ["true"])

    def led(alias: str) -> str:
        return "".join(f"{alias}.{key}, " for key in keys)

    ranks = ", ".join(f"('{name}', {a}, {d})" for name, (a, d) in PERCENTILES.items())
    found = ", ".join(
        f"MIN(f.b) FILTER (WHERE t.name = '{name}') AS {name}" for name in PERCENTILES
    )
    # The buckets of bin w.bin in a row's sparse, ascending buckets: positions after
    # those below the bin, up to the last within it (width_bucket: a binary search).
    low = f"width_bucket(w.bin * {BIN} - 1, s.buckets) + 1"
    high = f"width_bucket(w.bin * {BIN} + {BIN - 1}, s.buckets)"
    percentile_ctes = (
        # The bins merged: per group and percentile, the bin holding the rank, and how
        # many clocks lie in the bins before it.
        f", coarse AS (SELECT {lead}u.bin, SUM(sign * u.n) AS n "  # noqa: S608
        "FROM src, unnest(src.bins, src.bin_counts) AS u (bin, n) "
        f"GROUP BY {lead}u.bin), "
        f"coarse_running AS (SELECT {lead}bin, n, "
        f"SUM(n) OVER ({partition} ORDER BY bin) AS running, "
        f"SUM(n) OVER ({partition}) AS total FROM coarse), "
        f"target AS (SELECT DISTINCT ON ({led('c')}p.name) {led('c')}p.name, p.a, p.d, "
        "c.bin, c.running - c.n AS before, c.total "
        f"FROM coarse_running AS c, (VALUES {ranks}) AS p (name, a, d) "
        "WHERE p.d * c.running >= p.a * c.total "
        f"ORDER BY {led('c')}p.name, c.bin), "
        f"wanted AS (SELECT DISTINCT {lead}bin FROM target), "
        # Only those bins' buckets, of the rows that have any in them, merged.
        f"fine AS (SELECT {led('w')}u.b, SUM(s.sign * u.n) AS n "
        f"FROM wanted AS w JOIN src AS s ON {same('s', 'w')} "
        "AND s.bins[1] <= w.bin AND s.bins[cardinality(s.bins)] >= w.bin, "
        f"unnest(s.buckets[{low} : {high}], s.counts[{low} : {high}]) AS u (b, n) "
        f"GROUP BY {led('w')}u.b), "
        f"fine_running AS (SELECT {lead}b / {BIN} AS bin, b, "
        f"SUM(n) OVER (PARTITION BY {lead}b / {BIN} ORDER BY b) AS running FROM fine), "
        f"found AS (SELECT {led('t')}{found} FROM target AS t JOIN fine_running AS f "
        f"ON {same('f', 't')} AND f.bin = t.bin "
        f"AND t.d * (t.before + f.running) >= t.a * t.total "
        f"{'GROUP BY ' + ', '.join(f't.{key}' for key in keys) if keys else ''}) "
        f"SELECT t.*, {', '.join(f'f.{name}' for name in PERCENTILES)} FROM totals AS t "
        f"LEFT JOIN found AS f ON {same('t', 'f')} {order}"
    )
    tail = percentile_ctes if percentiles else f" SELECT * FROM totals AS t {order}"  # noqa: S608
    sql = (
        f"WITH src ({src}) AS MATERIALIZED ({' UNION ALL '.join(parts)}), "  # noqa: S608
        f"totals AS (SELECT {lead}{sums} FROM src {group}){tail}"
    )
    return sql, params


def _row(record, group_by, percentiles: bool) -> dict | None:
    width = len(group_by)
    values = dict(
        zip(COUNTERS, (int(v or 0) for v in record[width : width + len(COUNTERS)]), strict=True)
    )
    if not values["volume"]:
        return None  # no group keys and no finished clocks: the empty aggregate row
    row = {}
    for name, value in zip(group_by, record[:width], strict=False):
        if name in ("team", "agreement"):
            value = value or None  # 0: a clock without the copy (as the clocks say: NULL)
        row[name] = value
    if percentiles:
        p50, p80, p95 = (
            None if v is None else bucket_seconds(int(v)) for v in record[width + 11 : width + 14]
        )
    else:
        p50 = p80 = p95 = None
    volume = values["volume"]
    if "metric" in group_by:
        # Each clock of a metric's group is another handoff's (as clock_compliance counts).
        handoffs, reopened, waiting = volume, values["reopened"], values["waiting_seconds"]
    else:
        handoffs = values["handoffs"]
        reopened = values["handoffs_reopened"]
        waiting = values["handoffs_waiting_seconds"]
    row.update(
        volume=volume,
        with_target=values["with_target"],
        met=values["met"],
        breached=values["breached"],
        best_effort=volume - values["with_target"],
        met_pct=percent_of(values["met"], values["met"] + values["breached"]),
        p50=p50,
        p80=p80,
        p95=p95,
        paused_seconds=values["paused_seconds"],
        handoffs=handoffs,
        reopened=reopened,
        reopen_pct=percent_of(reopened, handoffs),
        waiting_seconds_avg=round(waiting / handoffs) if handoffs else None,
        around_the_clock=values["around_the_clock"] == volume,
    )
    return row
