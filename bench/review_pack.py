"""Building a quarterly review's compliance pack over 100,000 handoffs in the period.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal .venv/bin/python bench/review_pack.py

Builds a throw-away PostgreSQL database (`<name>_bench`) and fills it in the database
itself (INSERT … SELECT over generate_series, rows shaped as the services leave them):
the reviewed series with BENCH_HANDOFFS handoffs (×3 clocks) in the quarter and as many
in each of the two quarters before (the pack's previous period and its three-period
history), plus another series' handoffs in the same quarter that the pack must skip.
Clocks are mostly finished (met or breached against the standard targets), some still
running or cancelled; most breaches have a breach review. Then times `build_pack`, the
compliance query alone, the what-if replay and the recommendations: median, fastest and
slowest of BENCH_RUNS runs after a warm-up, and SQL queries. Prints figures; asserts
nothing. The server's JIT setting is printed, and with JIT on, the pack is timed once
more without it. BENCH_EXPLAIN=1 prints EXPLAIN ANALYZE of the compliance query;
BENCH_KEEP=1 keeps the database.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import _common

_common.setup_django()

from django.db import connection
from django.test.utils import CaptureQueriesContext

HANDOFFS = int(os.environ.get("BENCH_HANDOFFS", 100_000))
RUNS = int(os.environ.get("BENCH_RUNS", 7))
BERLIN = ZoneInfo("Europe/Berlin")
# The quarter reviewed and the two before it (local dates in Berlin, end exclusive).
QUARTERS = [
    (date(2025, 7, 1), date(2025, 10, 1)),
    (date(2025, 10, 1), date(2026, 1, 1)),
    (date(2026, 1, 1), date(2026, 4, 1)),
]
PERIOD_START, PERIOD_END = QUARTERS[-1]
NOW = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=BERLIN).astimezone(UTC)


def insert_handoffs(cursor, *, agreement, count: int, start: date, end: date, user) -> None:
    series = agreement.series
    cursor.execute(
        """
        INSERT INTO handoffs_handoff (
            created_at, updated_at, agreement_id, provider_team_id, requesting_team_id,
            title, description, priority, customer_segment, impacted_customers, triage,
            status, created_by_id, reopen_count, waiting_seconds
        )
        SELECT ts, ts, %(agreement)s, %(provider)s, %(requester)s,
            'Bench handoff ' || g, '',
            (ARRAY['P1', 'P2', 'P3', 'P3', 'P4'])[1 + floor(random() * 5)::int],
            (ARRAY['enterprise', 'business', 'self_serve', 'internal'])[
                1 + floor(random() * 4)::int],
            0, '{}'::jsonb, 'closed', %(user)s,
            CASE WHEN random() < 0.06 THEN 1 ELSE 0 END,
            CASE WHEN random() < 0.25 THEN floor(random() * 86400)::int ELSE 0 END
        FROM (
            SELECT g, %(since)s::timestamptz
                + random() * (%(until)s::timestamptz - %(since)s::timestamptz) AS ts
            FROM generate_series(1, %(count)s) AS g
        ) AS s
        """,
        {
            "agreement": agreement.pk,
            "provider": series.provider_team_id,
            "requester": series.requesting_team_id,
            "user": user.pk,
            "since": local_midnight(start),
            "until": local_midnight(end),
            "count": count,
        },
    )


def insert_clocks(cursor, agreements) -> None:
    """Three clocks a handoff: consumed business time spread around the target (about
    80 % within it), 2 % cancelled, 3 % still running, the rest met or breached."""
    targets = [
        (t.priority, metric, t.seconds_for(metric), t.around_the_clock)
        for t in agreements[0].targets.all()
        for metric in ("acknowledge", "action_plan", "resolve")
    ]
    values = ", ".join(["(%s, %s, %s::int, %s)"] * len(targets))
    cursor.execute(
        f"""
        INSERT INTO handoffs_clock (
            handoff_id, metric, target_seconds, around_the_clock, status, started_at,
            consumed_seconds, paused_seconds, pauses, fired_percent, stopped_at, met_at,
            breached_at, segments, carried_seconds
        )
        SELECT handoff_id, metric, target, atc, status, created_at, consumed, paused,
            '[]'::jsonb, 0,
            CASE WHEN status <> 'running' THEN created_at + make_interval(secs => consumed) END,
            CASE WHEN status = 'met' THEN created_at + make_interval(secs => consumed) END,
            CASE WHEN status = 'breached' THEN created_at + make_interval(secs => target) END,
            -- No recorded intervals: the consumed time is carried (as on migrated rows).
            '[]'::jsonb, consumed
        FROM (
            SELECT handoff_id, metric, target, atc, created_at, consumed, paused,
                CASE WHEN r < 0.02 THEN 'cancelled' WHEN r < 0.05 THEN 'running'
                     WHEN target IS NULL OR consumed <= target THEN 'met'
                     ELSE 'breached' END AS status
            FROM (
                SELECT h.id AS handoff_id, h.created_at, t.metric, t.target, t.atc,
                    random() AS r,
                    floor(coalesce(t.target, 28800) * power(random(), 2) * 1.56)::int
                        AS consumed,
                    CASE WHEN t.metric <> 'acknowledge' AND random() < 0.2
                         THEN floor(random() * 7200)::int ELSE 0 END AS paused
                FROM handoffs_handoff AS h
                JOIN (VALUES {values}) AS t (priority, metric, target, atc)
                  ON t.priority = h.priority
                WHERE h.agreement_id = ANY(%s)
            ) AS x
        ) AS y
        """,  # noqa: S608 (only placeholders are spliced in)
        [v for row in targets for v in row] + [[a.pk for a in agreements]],
    )


def build():
    from apps.reviews.models import QuarterlyReview
    from apps.teams.models import Role
    from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory

    provider = TeamFactory(name="Engineering", slug="engineering")
    requester = TeamFactory(name="Support", slug="support")
    billing = TeamFactory(name="Billing", slug="billing")
    lead = UserFactory(username="bench-lead")
    MembershipFactory(team=provider, user=lead, role=Role.LEAD)
    agent = UserFactory(username="bench-agent")
    MembershipFactory(team=requester, user=agent)
    agreement = AgreementFactory(series__provider_team=provider, series__requesting_team=requester)
    other = AgreementFactory(series__provider_team=billing, series__requesting_team=requester)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start, end in QUARTERS:
            insert_handoffs(
                cursor, agreement=agreement, count=HANDOFFS, start=start, end=end, user=agent
            )
        insert_handoffs(
            cursor, agreement=other, count=HANDOFFS, start=PERIOD_START, end=PERIOD_END, user=agent
        )
        insert_clocks(cursor, [agreement, other])
        # The handoff fields reports group by, copied onto each clock as the services do
        # (the same statement as migration handoffs 0004's backfill).
        cursor.execute(
            """
            UPDATE handoffs_clock AS c
            SET provider_team_id = h.provider_team_id,
                requesting_team_id = h.requesting_team_id,
                series_id = a.series_id,
                priority = h.priority,
                customer_segment = h.customer_segment,
                handoff_reopen_count = h.reopen_count,
                handoff_waiting_seconds = h.waiting_seconds
            FROM handoffs_handoff AS h
            JOIN agreements_agreement AS a ON a.id = h.agreement_id
            WHERE h.id = c.handoff_id
            """
        )
        cursor.execute(
            """
            INSERT INTO reviews_breachreview (
                created_at, updated_at, clock_id, root_cause, what_happened, prevention,
                reviewed_by_id
            )
            SELECT now(), now(), id,
                (ARRAY['capacity', 'skills', 'process', 'systems', 'customer', 'other'])[
                    1 + floor(random() * 6)::int],
                'Bench breach', '', %s
            FROM handoffs_clock WHERE status = 'breached' AND random() < 0.6
            """,
            [lead.pk],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM handoffs_handoff")
        handoffs = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM handoffs_clock")
        clocks = cursor.fetchone()[0]
    print(
        f"built {handoffs:,} handoffs ({clocks:,} clocks; {HANDOFFS:,} handoffs of the series "
        f"in each of three quarters, {HANDOFFS:,} of another series) "
        f"in {time.perf_counter() - started:.1f} s on {connection.vendor}"
    )
    review = QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        due_date=PERIOD_END,
    )
    return review


def measure(call) -> tuple[float, float, float, int, object]:
    result = call()  # warm-up
    timings = []
    queries = 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = call()
            timings.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
    return statistics.median(timings), min(timings), max(timings), queries, result


def main() -> None:
    from apps.handoffs.compliance import clock_compliance
    from apps.reviews.models import QuarterlyReview
    from apps.reviews.pack import build_pack, period_clocks, recommendations_for, targets_of
    from apps.reviews.whatif import replay

    if connection.vendor != "postgresql":
        sys.exit("bench/review_pack.py fills its data with PostgreSQL SQL: set DATABASE_URL.")
    with _common.throwaway_database(keep=bool(os.environ.get("BENCH_KEEP"))):
        review = build()
        agreement = review.agreement
        series = review.series
        proposed = targets_of(agreement)
        proposed["P2"]["acknowledge"] = 5400

        def pack():
            fresh = QuarterlyReview.objects.get(pk=review.pk)  # nothing cached between runs
            return build_pack(review=fresh, now=NOW)

        built = build_pack(review=review, now=NOW)
        clocks = period_clocks(
            series=series, start=PERIOD_START, end=PERIOD_END, tz="Europe/Berlin"
        )
        rows = [
            ("build_pack (period + previous + history)", pack),
            (
                "clock_compliance, the period by priority × metric",
                lambda: clock_compliance(
                    clocks, group_by=("priority", "metric"), tz="Europe/Berlin"
                ),
            ),
            (
                "clock_compliance, the period by month × priority",
                lambda: clock_compliance(
                    clocks, group_by=("month", "priority"), tz="Europe/Berlin"
                ),
            ),
            (
                "what-if replay of proposed targets",
                lambda: replay(
                    series=series,
                    period_start=PERIOD_START,
                    period_end=PERIOD_END,
                    targets=proposed,
                    tz="Europe/Berlin",
                ),
            ),
            (
                "recommendations from the pack",
                lambda: recommendations_for(agreement=agreement, pack=built),
            ),
        ]
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            jit = cursor.fetchone()[0]
            cursor.execute("SHOW work_mem")
            work_mem = cursor.fetchone()[0]
            # How fast this machine is right now: about 0.3 s on an idle modern core.
            started = time.perf_counter()
            cursor.execute("SELECT count(*) FROM generate_series(1, 5000000)")
            reference = (time.perf_counter() - started) * 1000
        print(
            f"\nPostgreSQL jit={jit}, work_mem={work_mem}; reference (count of 5,000,000 "
            f"generated rows) {reference:.0f} ms; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores"
        )
        print(f"{RUNS} timed runs each after a warm-up; period {PERIOD_START}…{PERIOD_END}")
        print(f"{'operation':<52} {'p50 ms':>8} {'min ms':>8} {'max ms':>8} {'queries':>8}")
        for label, call in rows:
            p50, fastest, slowest, queries, _ = measure(call)
            print(f"{label:<52} {p50:8.1f} {fastest:8.1f} {slowest:8.1f} {queries:8d}")
        if jit == "on":
            # JIT compilation costs a few hundred ms on queries of this size, more than it
            # saves: the same pack on a connection without it.
            with connection.cursor() as cursor:
                cursor.execute("SET jit = off")
            p50, fastest, slowest, queries, _ = measure(pack)
            label = "build_pack, session with jit = off"
            print(f"{label:<52} {p50:8.1f} {fastest:8.1f} {slowest:8.1f} {queries:8d}")
            with connection.cursor() as cursor:
                cursor.execute("RESET jit")
        row = next(
            r
            for r in built["period"]["rows"]
            if (r["priority"], r["metric"]) == ("P2", "acknowledge")
        )
        print(
            f"\nperiod: {built['period']['handoffs']:,} handoffs; P2 acknowledge: "
            f"{row['volume']:,} finished, met {row['met_pct']} %, p50/p80/p95 "
            f"{row['p50']}/{row['p80']}/{row['p95']} s; breach causes "
            f"{built['period']['breach_causes']}"
        )
        if os.environ.get("BENCH_EXPLAIN"):
            with CaptureQueriesContext(connection) as captured:
                clock_compliance(clocks, group_by=("priority", "metric"), tz="Europe/Berlin")
            sql = captured.captured_queries[0]["sql"]
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                print("\n".join(line for (line,) in cursor.fetchall()))


if __name__ == "__main__":
    main()
