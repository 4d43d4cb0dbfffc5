"""Compliance report speed over 1,000,000 handoffs (3,000,000 clocks) on PostgreSQL: every
report shape, before (the exact path: `clock_compliance` over the clocks) and after (the
clock rollups: `apps.reports.rollups`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal .venv/bin/python bench/reports.py

Builds a throw-away PostgreSQL database (`<name>_bench`) and fills it in the database
itself (INSERT … SELECT over generate_series, rows shaped as the services leave them):
five provider teams and three requesting teams under six agreements, BENCH_HANDOFFS
handoffs created over the last year, three clocks each (mostly met or breached, some
running or cancelled), most breaches reviewed; then builds the rollups as
`manage.py rebuild_clock_rollups` does (timed). Then times, over the whole year (the
period's ends at 10:00 UTC: partial days read from the clocks):

- team × priority × metric (p50/p80/p95), as staff see it (every handoff) and as
  Engineering's lead sees it (`Clock.objects.visible_to`);
- team × priority only (each handoff counted once over its clocks);
- month × metric in Berlin's months, and segment × metric;
- the whole report page as the lead opens it (compliance, breach causes, monthly trend),
  its compliance CSV, and the API's answer, through Django's test client;
- with BENCH_BEFORE=1, first the query as it was before issue 7 (a join to the handoffs
  and a sorted `percentile_disc` per group, on the server's settings);

each shape's median, fastest and slowest of BENCH_RUNS runs after a warm-up, and SQL
queries, before and after. Prints figures with the load average (the machine may be
shared); asserts nothing. BENCH_EXPLAIN=1 prints EXPLAIN ANALYZE of the team × priority ×
metric query from the rollups; BENCH_KEEP=1 keeps the database, and a later run with
BENCH_KEEP=1 reuses it (no rebuild).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import _common

_common.setup_django()

from django.db import connection
from django.test.utils import CaptureQueriesContext

HANDOFFS = int(os.environ.get("BENCH_HANDOFFS", 1_000_000))
RUNS = int(os.environ.get("BENCH_RUNS", 7))
NOW = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=365)
# (provider, requester) of each agreement, and its share of the handoffs.
PAIRS = [
    ("engineering", "support", 4),
    ("engineering", "sales", 1),
    ("billing", "support", 2),
    ("platform", "engineering", 1),
    ("security", "support", 1),
    ("customer-success", "sales", 1),
]


def insert_handoffs(cursor, *, agreement, count: int, user) -> None:
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
            ORDER BY ts
        ) AS s
        """,
        {
            "agreement": agreement.pk,
            "provider": series.provider_team_id,
            "requester": series.requesting_team_id,
            "user": user.pk,
            "since": SINCE,
            "until": NOW,
            "count": count,
        },
    )


def insert_clocks(cursor, agreement) -> None:
    """Three clocks a handoff, with the copies of the handoff's fields the services keep
    on them: consumed business time spread around the target (about 80 % within it), 2 %
    cancelled, 3 % still running, the rest met or breached."""
    targets = [
        (t.priority, metric, t.seconds_for(metric), t.around_the_clock)
        for t in agreement.targets.all()
        for metric in ("acknowledge", "action_plan", "resolve")
    ]
    values = ", ".join(["(%s, %s, %s::int, %s)"] * len(targets))
    cursor.execute(
        f"""
        INSERT INTO handoffs_clock (
            handoff_id, metric, provider_team_id, requesting_team_id, series_id, priority,
            customer_segment, handoff_reopen_count, handoff_waiting_seconds,
            target_seconds, around_the_clock, status, started_at,
            consumed_seconds, paused_seconds, pauses, fired_percent, stopped_at, met_at,
            breached_at, segments, carried_seconds
        )
        SELECT handoff_id, metric, provider_team_id, requesting_team_id, %s, priority,
            customer_segment, reopen_count, waiting_seconds,
            target, atc, status, created_at, consumed, paused,
            '[]'::jsonb, 0,
            CASE WHEN status <> 'running' THEN created_at + make_interval(secs => consumed) END,
            CASE WHEN status = 'met' THEN created_at + make_interval(secs => consumed) END,
            CASE WHEN status = 'breached' THEN created_at + make_interval(secs => target) END,
            -- No recorded intervals: the consumed time is carried (as on migrated rows).
            '[]'::jsonb, consumed
        FROM (
            SELECT x.*,
                CASE WHEN r < 0.02 THEN 'cancelled' WHEN r < 0.05 THEN 'running'
                     WHEN target IS NULL OR consumed <= target THEN 'met'
                     ELSE 'breached' END AS status
            FROM (
                SELECT h.id AS handoff_id, h.created_at, h.provider_team_id,
                    h.requesting_team_id, h.priority, h.customer_segment, h.reopen_count,
                    h.waiting_seconds, t.metric, t.target, t.atc,
                    random() AS r,
                    floor(coalesce(t.target, 28800) * power(random(), 2) * 1.56)::int
                        AS consumed,
                    CASE WHEN t.metric <> 'acknowledge' AND random() < 0.2
                         THEN floor(random() * 7200)::int ELSE 0 END AS paused
                FROM handoffs_handoff AS h
                JOIN (VALUES {values}) AS t (priority, metric, target, atc)
                  ON t.priority = h.priority
                WHERE h.agreement_id = %s
                ORDER BY h.id, t.metric
            ) AS x
        ) AS y
        """,  # noqa: S608 (only placeholders are spliced in)
        [agreement.series_id] + [v for row in targets for v in row] + [agreement.pk],
    )


def build() -> dict:
    from apps.teams.models import Role
    from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory

    slugs = sorted({slug for pair in PAIRS for slug in pair[:2]})
    teams = {slug: TeamFactory(name=slug.replace("-", " ").title(), slug=slug) for slug in slugs}
    lead = UserFactory(username="bench-lead")
    MembershipFactory(team=teams["engineering"], user=lead, role=Role.LEAD)
    agent = UserFactory(username="bench-agent")
    MembershipFactory(team=teams["support"], user=agent)
    staff = UserFactory(username="bench-staff", is_staff=True)
    shares = sum(share for *_, share in PAIRS)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for provider, requester, share in PAIRS:
            agreement = AgreementFactory(
                series__provider_team=teams[provider], series__requesting_team=teams[requester]
            )
            insert_handoffs(
                cursor, agreement=agreement, count=HANDOFFS * share // shares, user=agent
            )
            insert_clocks(cursor, agreement)
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
        cursor.execute("SELECT count(*) FROM handoffs_handoff")
        handoffs = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM handoffs_clock")
        clocks = cursor.fetchone()[0]
    print(
        f"built {handoffs:,} handoffs ({clocks:,} clocks) of {len(PAIRS)} agreements between "
        f"{len(teams)} teams in {time.perf_counter() - started:.1f} s on {connection.vendor}"
    )
    from django.core.management import call_command

    call_command("rebuild_clock_rollups")  # prints its own time and rows
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"lead": lead, "staff": staff}


def existing() -> dict | None:
    """The people of a database kept by an earlier run (BENCH_KEEP=1), if there is one."""
    from apps.accounts.models import User

    users = {u.username: u for u in User.objects.filter(username__startswith="bench-")}
    if {"bench-lead", "bench-staff"} - set(users):
        return None
    print("reusing the kept database")
    return {"lead": users["bench-lead"], "staff": users["bench-staff"]}


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


# The compliance query as it was before bench/reports.py (issue 7): every finished clock
# joined to its handoff for the group keys, one ordered aggregate per group (the planner
# sorts all clocks by group), the server's settings. Run with BENCH_BEFORE=1 to compare.
BEFORE = """
SELECT h.provider_team_id, h.priority, c.metric, COUNT(*),
    SUM(CASE WHEN c.target_seconds IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.target_seconds IS NOT NULL AND c.status = 'met' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.status = 'breached' THEN 1 ELSE 0 END), SUM(c.paused_seconds),
    COUNT(*), SUM(CASE WHEN h.reopen_count > 0 THEN 1 ELSE 0 END), SUM(h.waiting_seconds),
    percentile_disc(ARRAY[0.5, 0.8, 0.95]) WITHIN GROUP (ORDER BY c.consumed_seconds)
FROM handoffs_clock c JOIN handoffs_handoff h ON h.id = c.handoff_id
WHERE c.status IN ('met', 'breached') AND h.created_at >= %s AND h.created_at < %s
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


@contextmanager
def exact_path():
    """Reports read the clocks, as before the rollups (the fallback's path: breach causes
    too, by the ORM's query)."""
    from apps.reports import report

    kept = report.rollup_compliance, report.breach_cause_counts
    report.rollup_compliance = report.breach_cause_counts = lambda **kwargs: None
    try:
        yield
    finally:
        report.rollup_compliance, report.breach_cause_counts = kept


def operations(people: dict) -> list[tuple[str, object, object]]:
    """(label, before, after): each shape on the clocks, then from the rollups."""
    from django.conf import settings
    from django.test import Client

    from apps.handoffs.compliance import clock_compliance
    from apps.handoffs.models import Clock
    from apps.reports.forms import ReportForm
    from apps.reports.report import Namer, build_report
    from apps.reports.rollups import Scope, rollup_compliance

    def shape(user, group_by, tz="Europe/Berlin"):
        def before():
            clocks = Clock.objects.visible_to(user).filter(
                started_at__gte=SINCE, started_at__lt=NOW
            )
            return clock_compliance(clocks, group_by=group_by, tz=tz)

        def after():
            return rollup_compliance(
                scope=Scope.of(user), since=SINCE, until=NOW, group_by=group_by, tz=tz
            )

        return before, after

    def both(call):
        def before():
            with exact_path():
                return call()

        return before, call

    staff, lead = people["staff"], people["lead"]
    rows = []
    if os.environ.get("BENCH_BEFORE"):

        def issue7():
            with connection.cursor() as cursor:
                cursor.execute(BEFORE, [SINCE, NOW])
                return cursor.fetchall()

        rows.append(("issue 7's join + sorted percentile_disc, staff", issue7, None))
    rows += [
        ("team × priority × metric, staff", *shape(staff, ("team", "priority", "metric"))),
        ("team × priority × metric, lead", *shape(lead, ("team", "priority", "metric"))),
        ("team × priority (each handoff once), staff", *shape(staff, ("team", "priority"))),
        ("month (Berlin) × metric, staff", *shape(staff, ("month", "metric"))),
        ("segment × metric, staff", *shape(staff, ("segment", "metric"))),
    ]
    period = {"from": f"{SINCE:%Y-%m-%d}", "to": f"{NOW:%Y-%m-%d}"}

    def report():
        form = ReportForm(period | {"group_by": "priority"}, user=lead, today=NOW.date())
        assert form.is_valid(), form.errors
        namer = Namer(teams=form.teams, agreements=form.agreements)
        return build_report(user=lead, query=form.query(), tz="UTC", namer=namer)

    rows.append(("report by priority (3 tables), lead", *both(report)))
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(lead)

    def get(path, params, accept="text/html"):
        def call():
            response = client.get(path, params, HTTP_ACCEPT=accept)
            assert response.status_code == 200, response.content[:300]
            return response

        return call

    rows += [
        (
            "GET /reports/?group_by=month (page), lead",
            *both(get("/reports/", period | {"group_by": "month"})),
        ),
        (
            "GET /reports/compliance.csv?group_by=segment",
            *both(get("/reports/compliance.csv", period | {"group_by": "segment"})),
        ),
        (
            "GET /api/reports/compliance/?group_by=team",
            *both(
                get(
                    "/api/reports/compliance/",
                    period | {"group_by": "team"},
                    accept="application/json",
                )
            ),
        ),
    ]
    return rows


def main() -> None:
    from apps.reports.rollups import SETTINGS, Scope, rollup_compliance

    if connection.vendor != "postgresql":
        sys.exit("bench/reports.py fills its data with PostgreSQL SQL: set DATABASE_URL.")
    keep = bool(os.environ.get("BENCH_KEEP"))
    with _common.throwaway_database(keep=keep, reuse=keep):
        people = existing() if keep else None
        people = people or build()
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            jit = cursor.fetchone()[0]
            cursor.execute("SHOW work_mem")
            work_mem = cursor.fetchone()[0]
            cursor.execute("SHOW max_parallel_workers_per_gather")
            parallel = cursor.fetchone()[0]
            # How fast this machine is right now: about 0.3 s on an idle modern core.
            started = time.perf_counter()
            cursor.execute("SELECT count(*) FROM generate_series(1, 5000000)")
            reference = (time.perf_counter() - started) * 1000
        print(
            f"\nPostgreSQL server settings: jit={jit}, work_mem={work_mem}, parallel workers "
            f"per gather={parallel} (the compliance query sets its own jit and work_mem); "
            f"reference (count of 5,000,000 generated rows) {reference:.0f} ms; "
            f"{os.cpu_count()} cores"
        )
        print(f"{RUNS} timed runs each after a warm-up; period {SINCE:%Y-%m-%d}…{NOW:%Y-%m-%d}")
        print(
            f"{'operation':<46} {'exact p50':>10} {'rollups p50':>12} {'min':>7} {'max':>7} "
            f"{'queries':>8}"
        )
        for label, before, after in operations(people):
            load = os.getloadavg()[0]
            exact = measure(before)[0] if before else None
            p50, fastest, slowest, queries, _ = measure(after) if after else (None,) * 5
            exact_text = f"{exact:8.1f} ms" if exact is not None else f"{'—':>11}"
            after_text = (
                f"{p50:9.1f} ms {fastest:7.1f} {slowest:7.1f} {queries:8d}"
                if p50 is not None
                else f"{'—':>12}"
            )
            print(
                f"{label:<46} {exact_text} {after_text}"
                f"   (load {load:.1f} → {os.getloadavg()[0]:.1f})"
            )
        if os.environ.get("BENCH_EXPLAIN"):
            with CaptureQueriesContext(connection) as captured:
                rollup_compliance(
                    scope=Scope(),
                    since=SINCE,
                    until=NOW,
                    group_by=("team", "priority", "metric"),
                    tz="Europe/Berlin",
                )
            select = captured.captured_queries[0]["sql"].removeprefix(SETTINGS)
            with connection.cursor() as cursor:
                cursor.execute(f"{SETTINGS}EXPLAIN (ANALYZE, BUFFERS) {select}")
                while cursor.description is None and cursor.nextset():
                    pass
                print("\n".join(line for (line,) in cursor.fetchall()))


if __name__ == "__main__":
    main()
