"""Keeping the clock rollups (models.ClockRollup) equal to the finished clocks.

A finished clock (met or breached) adds one contribution to three rollup rows: its UTC
day with every key, its UTC month without the segment, its UTC month without the
priority. The contribution as added is recorded on the clock (`Clock.rollup`); whenever
a clock or its handoff's copies change, `settle` compares each clock of the handoff
with its record, subtracts the old contribution and adds the new one — the deltas of
a whole change summed per row and written in ONE `INSERT … ON CONFLICT DO UPDATE SET
x = x + EXCLUDED.x` (rows in key order: two changes meeting on the same rows lock
them in the same order and wait for each other, never deadlock; neither loses a count).
It runs in the transaction of the change, under the handoff's lock.

A handoff is counted once, on its first finished clock by metric ("acknowledge" <
"action_plan" < "resolve"): reports that group without the metric add up `handoffs`
instead of numbering each handoff's clocks.

Each row also holds its histogram in bins of `BIN` buckets (`bins` → `bin_counts`):
a report finds the bin each percentile falls in from the bins (a few dozen entries a
row), then reads the buckets of that bin alone, instead of merging every bucket of every
row (apps.reports.rollups).

`rebuild` builds the rows again from the clocks, in the database (the management
command `rebuild_clock_rollups`).
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date

from django.db import connections, router, transaction

from ..models import ALL, Clock, ClockRollup, ClockStatus, RollupGrain
from ..models.clocks import ROLLUP_KEY

FINISHED = (ClockStatus.MET, ClockStatus.BREACHED)
# Consumed seconds → histogram bucket: one-minute buckets below 8 h, five-minute above.
FINE_UNTIL = 8 * 3600
FINE = 60
COARSE = 300
FINE_BUCKETS = FINE_UNTIL // FINE
# Buckets per bin of the coarse histogram: half an hour below 8 h, 2.5 h above. About
# the square root of a row's buckets (a few hundred to a thousand), so the bins and the
# buckets of one bin are both short.
BIN = 30

KEY = ROLLUP_KEY
COUNTERS = (
    "volume",
    "with_target",
    "met",
    "breached",
    "around_the_clock",
    "paused_seconds",
    "reopened",
    "waiting_seconds",
    "handoffs",
    "handoffs_reopened",
    "handoffs_waiting_seconds",
)


def bucket(seconds: int) -> int:
    """The histogram bucket of a consumed time."""
    if seconds < FINE_UNTIL:
        return seconds // FINE
    return FINE_BUCKETS + (seconds - FINE_UNTIL) // COARSE


def bucket_seconds(index: int) -> int:
    """The first second of a bucket: a percentile read from the histogram is the exact
    one rounded down to the minute (below 8 h) or to five minutes (above)."""
    if index < FINE_BUCKETS:
        return index * FINE
    return FINE_UNTIL + (index - FINE_BUCKETS) * COARSE


# The same two functions in SQL, over a column of consumed seconds.
def bucket_sql(column: str) -> str:
    return (
        f"CASE WHEN {column} < {FINE_UNTIL} THEN {column} / {FINE} "
        f"ELSE {FINE_BUCKETS} + ({column} - {FINE_UNTIL}) / {COARSE} END"
    )


def bucket_seconds_sql(column: str) -> str:
    return (
        f"CASE WHEN {column} < {FINE_BUCKETS} THEN {column} * {FINE} "
        f"ELSE {FINE_UNTIL} + ({column} - {FINE_BUCKETS}) * {COARSE} END"
    )


def bins_sql(buckets: str, counts: str) -> str:
    """SQL of the (bins, bin_counts) arrays of a histogram's buckets and counts."""
    return (
        "SELECT COALESCE(array_agg(bin ORDER BY bin), '{}') AS bins, "  # noqa: S608 (names only)
        "COALESCE(array_agg(n ORDER BY bin), '{}') AS bin_counts FROM ("
        f"SELECT b / {BIN} AS bin, SUM(n)::int AS n FROM unnest({buckets}, {counts}) "
        "AS u (b, n) GROUP BY 1 HAVING SUM(n) <> 0) AS binned"
    )


# --- what a clock adds --------------------------------------------------------------------


def contribution(clock: Clock, *, counts_handoff: bool) -> dict | None:
    """What a clock adds to the rollups now (None: nothing, it is not finished). Plain
    JSON: it is recorded on the clock as it was added."""
    if clock.status not in FINISHED:
        return None
    return {
        "day": clock.started_at.astimezone(UTC).date().isoformat(),
        "pt": clock.provider_team_id or 0,
        "rt": clock.requesting_team_id or 0,
        "se": clock.series_id or 0,
        "pr": clock.priority,
        "sg": clock.customer_segment,
        "m": clock.metric,
        "met": clock.status == ClockStatus.MET,
        "tg": clock.target_seconds is not None,
        "c": clock.consumed_seconds,
        "pa": clock.paused_seconds,
        "ro": clock.handoff_reopen_count > 0,
        "w": clock.handoff_waiting_seconds,
        "a": clock.around_the_clock,
        "h": counts_handoff,
    }


def _rows(c: dict) -> list[tuple]:
    """The rollup keys a contribution adds to."""
    day = date.fromisoformat(c["day"])
    month = day.replace(day=1)
    common = (c["pt"], c["rt"], c["se"])
    return [
        (RollupGrain.DAY.value, day, *common, c["pr"], c["sg"], c["m"]),
        (RollupGrain.MONTH.value, month, *common, c["pr"], ALL, c["m"]),
        (RollupGrain.MONTH.value, month, *common, ALL, c["sg"], c["m"]),
    ]


def _values(c: dict) -> tuple[int, ...]:
    """The counters a contribution adds, in the order of COUNTERS."""
    handoff = 1 if c["h"] else 0
    return (
        1,
        int(c["tg"]),
        int(c["tg"] and c["met"]),
        int(not c["met"]),
        int(c["a"]),
        c["pa"],
        int(c["ro"]),
        c["w"],
        handoff,
        handoff * int(c["ro"]),
        handoff * c["w"],
    )


class Deltas:
    """Counter and histogram changes per rollup row, summed before they are written."""

    def __init__(self):
        self.counters: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
        self.histograms: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.bins: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, c: dict | None, sign: int) -> None:
        if c is None:
            return
        values = _values(c)
        b = bucket(c["c"])
        for key in _rows(c):
            row = self.counters[key]
            for i, value in enumerate(values):
                row[i] += sign * value
            self.histograms[key][b] += sign
            self.bins[key][b // BIN] += sign

    def rows(self) -> list[tuple]:
        """(key, counters, buckets, counts, bins, bin_counts) of the rows that change, in
        key order."""
        result = []
        for key in sorted(self.counters):
            counters = self.counters[key]
            histogram = {b: n for b, n in sorted(self.histograms[key].items()) if n}
            binned = {b: n for b, n in sorted(self.bins[key].items()) if n}
            if any(counters) or histogram:
                result.append(
                    (
                        key,
                        counters,
                        list(histogram),
                        list(histogram.values()),
                        list(binned),
                        list(binned.values()),
                    )
                )
        return result


# --- keeping them -------------------------------------------------------------------------


def settle(clocks: Sequence[Clock]) -> None:
    """Bring the rollups in step with `clocks` — every clock of the handoffs concerned,
    locked by the caller — and set each clock's `rollup` record to what it now adds (the
    caller saves the clocks; `refresh` saves them itself)."""
    first: dict[int, str] = {}
    for clock in clocks:
        if clock.status in FINISHED:
            held = first.get(clock.handoff_id)
            first[clock.handoff_id] = clock.metric if held is None else min(held, clock.metric)
    using = router.db_for_write(Clock)
    deltas = _written_last(using) or Deltas()
    for clock in clocks:
        now = contribution(clock, counts_handoff=first.get(clock.handoff_id) == clock.metric)
        if now != clock.rollup:
            deltas.add(clock.rollup, -1)
            deltas.add(now, +1)
            clock.rollup = now
    if deltas is not _written_last(using):
        apply(deltas, using=using)


# A rollup row is shared by every clock of its team, priority and day: a change holds it
# locked from its write to the change's commit, and people acting at once queue on it.
# A change made through `one_change` writes its rollups as its transaction's last
# statement, so the row is held for the commit alone.
_held = threading.local()


@contextmanager
def written_last(using: str = "default") -> Iterator[None]:
    """Within this block, `settle` called at the block's own transaction level sums its
    deltas, written when the block ends without an error (one statement). Deeper, in a
    savepoint that may roll back alone, `settle` writes at once; nested blocks write
    their own at their end."""
    scopes = _held.__dict__.setdefault("scopes", [])
    scope = (using, len(connections[using].atomic_blocks), Deltas())
    scopes.append(scope)
    try:
        yield
    finally:
        scopes.pop()
    apply(scope[2], using=using)  # not reached when the block raised


def _written_last(using: str) -> Deltas | None:
    scopes = _held.__dict__.get("scopes")
    if not scopes:
        return None
    scope_using, depth, deltas = scopes[-1]
    if scope_using != using or depth != len(connections[using].atomic_blocks):
        return None
    return deltas


def one_change(function):
    """`transaction.atomic` for a service that changes clocks: its rollups are written last
    (`written_last`)."""

    @functools.wraps(function)
    def change(*args, **kwargs):
        using = router.db_for_write(Clock)
        with transaction.atomic(using=using), written_last(using):
            return function(*args, **kwargs)

    return change


def refresh(handoff_ids: Iterable[int]) -> None:
    """Settle the clocks of these handoffs and save their records: for clocks written
    around the services (bulk loads, test data shaped as the services leave it)."""
    with transaction.atomic():
        clocks = list(
            Clock.objects.select_for_update(no_key=True)
            .filter(handoff_id__in=sorted(set(handoff_ids)))
            .order_by("handoff_id", "pk")
        )
        before = {clock.pk: clock.rollup for clock in clocks}
        settle(clocks)
        for clock in clocks:
            if clock.rollup != before[clock.pk]:
                Clock.objects.filter(pk=clock.pk).update(rollup=clock.rollup)


def apply(deltas: Deltas, *, using: str = "default") -> None:
    """Write summed deltas: one statement on PostgreSQL (the histogram merged in SQL);
    elsewhere the counters in one statement and each histogram read, merged and written
    (SQLite holds its one write lock from the first write to the commit)."""
    rows = deltas.rows()
    if not rows:
        return
    connection = connections[using]
    table = ClockRollup._meta.db_table
    postgres = connection.vendor == "postgresql"
    key_sql = ", ".join(KEY)
    columns = [*KEY, *COUNTERS, "buckets", "counts", "bins", "bin_counts"]
    cast = "::int[]" if postgres else ""
    placeholder = "(" + ", ".join(["%s"] * (len(KEY) + len(COUNTERS)) + [f"%s{cast}"] * 4) + ")"
    updates = [f"{name} = {table}.{name} + EXCLUDED.{name}" for name in COUNTERS]
    if postgres:
        for values, counts in (("buckets", "counts"), ("bins", "bin_counts")):
            updates.append(
                f"({values}, {counts}) = (SELECT COALESCE(array_agg(b ORDER BY b), '{{}}'), "  # noqa: S608
                "COALESCE(array_agg(n ORDER BY b), '{}') FROM ("
                "SELECT b, SUM(n)::int AS n FROM unnest("
                f"{table}.{values} || EXCLUDED.{values}, {table}.{counts} || EXCLUDED.{counts}) "
                "AS u (b, n) GROUP BY b HAVING SUM(n) <> 0) AS merged)"
            )
    params = []
    for key, counters, *arrays in rows:
        histogram = arrays if postgres else ["[]"] * 4
        if postgres:
            params += [*key, *counters, *histogram]
        else:
            params += [*key[:1], key[1].isoformat(), *key[2:], *counters, *histogram]
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608
        f"{', '.join([placeholder] * len(rows))} "
        f"ON CONFLICT ({key_sql}) DO UPDATE SET {', '.join(updates)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    if not postgres:
        _merge_histograms(rows, using)


def _merge(values, counts, more_values, more_counts) -> tuple[list[int], list[int]]:
    histogram = defaultdict(int, zip(values, counts, strict=True))
    for b, n in zip(more_values, more_counts, strict=True):
        histogram[b] += n
    merged = sorted((b, n) for b, n in histogram.items() if n)
    return [b for b, _ in merged], [n for _, n in merged]


def _merge_histograms(rows, using: str) -> None:
    for key, _, buckets, counts, bins, bin_counts in rows:
        row = ClockRollup.objects.using(using).get(**dict(zip(KEY, key, strict=True)))
        buckets, counts = _merge(row.buckets, row.counts, buckets, counts)
        bins, bin_counts = _merge(row.bins, row.bin_counts, bins, bin_counts)
        ClockRollup.objects.using(using).filter(pk=row.pk).update(
            buckets=buckets, counts=counts, bins=bins, bin_counts=bin_counts
        )


# --- building them again ------------------------------------------------------------------


def rebuild(*, using: str = "default", batch: int = 2000) -> int:
    """Empty the rollups and add up every finished clock again, recording on each clock
    what it adds; returns the number of finished clocks. On PostgreSQL in a few
    statements; elsewhere a batch of handoffs at a time through `settle`."""
    connection = connections[using]
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            return _rebuild_postgres(connection)
        ClockRollup.objects.using(using).all().delete()
        Clock.objects.using(using).exclude(rollup=None).update(rollup=None)
        handoff_ids = list(
            Clock.objects.using(using)
            .filter(status__in=FINISHED)
            .values_list("handoff_id", flat=True)
            .distinct()
            .order_by("handoff_id")
        )
        for i in range(0, len(handoff_ids), batch):
            refresh(handoff_ids[i : i + batch])
        return Clock.objects.using(using).filter(status__in=FINISHED).count()


def _rebuild_postgres(connection) -> int:
    clock = Clock._meta.db_table
    table = ClockRollup._meta.db_table
    # Each finished clock's contribution, with the first-finished-metric marker.
    contributions = f"""
        SELECT c.id, (c.started_at AT TIME ZONE 'UTC')::date AS day,
            COALESCE(c.provider_team_id, 0) AS pt, COALESCE(c.requesting_team_id, 0) AS rt,
            COALESCE(c.series_id, 0) AS se, c.priority AS pr, c.customer_segment AS sg,
            c.metric AS m, c.status = 'met' AS met, c.target_seconds IS NOT NULL AS tg,
            c.consumed_seconds AS c, c.paused_seconds AS pa, c.handoff_reopen_count > 0 AS ro,
            c.handoff_waiting_seconds AS w, c.around_the_clock AS a,
            c.metric = MIN(c.metric) OVER (PARTITION BY c.handoff_id) AS h
        FROM {clock} AS c WHERE c.status IN ('met', 'breached')
    """  # noqa: S608 (table names only)
    record = (
        "jsonb_build_object('day', to_char(day, 'YYYY-MM-DD'), 'pt', pt, 'rt', rt, "
        "'se', se, 'pr', pr, 'sg', sg, 'm', m, 'met', met, 'tg', tg, 'c', c, 'pa', pa, "
        "'ro', ro, 'w', w, 'a', a, 'h', h)"
    )
    # Per bucket of a row: the counters' sums, in the order of COUNTERS.
    sums = [
        "COUNT(*)",
        "SUM(tg::int)",
        "SUM((tg AND met)::int)",
        "SUM((NOT met)::int)",
        "SUM(a::int)",
        "SUM(pa)",
        "SUM(ro::int)",
        "SUM(w)",
        "SUM(h::int)",
        "SUM((h AND ro)::int)",
        "SUM(CASE WHEN h THEN w ELSE 0 END)",
    ]
    per_bucket = ", ".join(f"{expression} AS x{i}" for i, expression in enumerate(sums))
    totals = ", ".join(f"SUM(x{i})" for i in range(len(sums)))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        # Migration 0007 rebuilds through this code on the table as it leaves it, before
        # 0009 adds the bins (and bins what 0007 built).
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = 'bins' AND NOT attisdropped)",
            [table],
        )
        binned = cursor.fetchone()[0]
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"CREATE TEMPORARY TABLE rollup_src ON COMMIT DROP AS {contributions}")
        cursor.execute(
            f"UPDATE {clock} AS c SET rollup = {record} FROM rollup_src AS s "  # noqa: S608
            f"WHERE c.id = s.id AND c.rollup IS DISTINCT FROM {record}"
        )
        cursor.execute(
            f"UPDATE {clock} SET rollup = NULL WHERE rollup IS NOT NULL "  # noqa: S608
            "AND status NOT IN ('met', 'breached')"
        )
        for grain, day, pr, sg in (
            ("day", "day", "pr", "sg"),
            ("month", "date_trunc('month', day)::date", "pr", "'*'"),
            ("month", "date_trunc('month', day)::date", "'*'", "sg"),
        ):
            cursor.execute(
                f"""
                INSERT INTO {table} (
                    {", ".join(KEY)}, {", ".join(COUNTERS)}, buckets, counts
                    {", bins, bin_counts" if binned else ""}
                )
                SELECT r.* {", binned.*" if binned else ""} FROM (
                    SELECT %s, d, pt, rt, se, p, g, m, {totals},
                        array_agg(b ORDER BY b) AS buckets, array_agg(n ORDER BY b) AS counts
                    FROM (
                        SELECT {day} AS d, pt, rt, se, {pr} AS p, {sg} AS g, m,
                            {bucket_sql("c")} AS b, COUNT(*)::int AS n, {per_bucket}
                        FROM rollup_src GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
                    ) AS per_bucket
                    GROUP BY d, pt, rt, se, p, g, m
                ) AS r
                {f", LATERAL ({bins_sql('r.buckets', 'r.counts')}) AS binned" if binned else ""}
                """,  # noqa: S608 (fixed SQL only)
                [grain],
            )
        cursor.execute("SELECT COUNT(*) FROM rollup_src")
        finished = cursor.fetchone()[0]
        # Dropped now, not only at commit: the caller's transaction may go on.
        cursor.execute("DROP TABLE rollup_src")
        return finished
