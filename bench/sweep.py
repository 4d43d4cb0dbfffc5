"""Clock sweep cost with 100,000 running clocks, of which 0, 100 or 1,000 are due.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal .venv/bin/python bench/sweep.py

Builds a throw-away database (`<name>_bench`) with bulk inserts, then for each scenario
makes N clocks due (their warning moment has passed) and times one sweep: wall time and
SQL queries. The claim is that the work grows with N, not with the 100,000. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import _common

_common.setup_django()

from django.db import connection

RUNNING = int(os.environ.get("BENCH_RUNNING", 100_000))
SCENARIOS = [0, 100, 1_000]


def build(now: datetime):
    from apps.agreements.models import Metric
    from apps.handoffs.models import Clock, ClockStatus, Handoff, Status
    from apps.teams.models import Role
    from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory

    provider = TeamFactory(name="Engineering", slug="engineering")
    requester = TeamFactory(name="Support", slug="support")
    engineer = UserFactory(username="bench-engineer")
    MembershipFactory(team=provider, user=engineer, role=Role.LEAD)
    agent = UserFactory(username="bench-agent")
    MembershipFactory(team=requester, user=agent)
    agreement = AgreementFactory(series__provider_team=provider, series__requesting_team=requester)
    p1 = agreement.targets.get(priority="P1")  # 24×7: 30 min / 2 h / 8 h
    started = time.perf_counter()
    per_handoff = len(Metric.values)
    count = RUNNING // per_handoff
    batch = 5_000
    for offset in range(0, count, batch):
        handoffs = Handoff.objects.bulk_create(
            Handoff(
                agreement=agreement,
                provider_team=provider,
                requesting_team=requester,
                title=f"Bench {offset + n}",
                priority="P1",
                triage={},
                status=Status.NEW,
                assignee=engineer,
                created_by=agent,
            )
            for n in range(min(batch, count - offset))
        )
        Clock.objects.bulk_create(
            (
                Clock(
                    handoff=h,
                    metric=metric,
                    target_seconds=p1.seconds_for(metric),
                    around_the_clock=True,
                    status=ClockStatus.RUNNING,
                    started_at=now,
                    segment_started_at=now,
                    due_at=now + timedelta(seconds=p1.seconds_for(metric)),
                    next_step_at=now + timedelta(seconds=p1.seconds_for(metric) * 3 // 4),
                )
                for h in handoffs
                for metric in Metric.values
            ),
            batch_size=5_000,
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    print(
        f"built {count * per_handoff:,} running clocks in {time.perf_counter() - started:.1f} s"
        f" on {connection.vendor}"
    )
    return agreement


def make_due(n: int, now: datetime) -> None:
    """N acknowledge clocks whose warning (75 % of 30 min) has passed: started 25 min ago."""
    from apps.handoffs.models import Clock

    ids = list(
        Clock.objects.filter(metric="acknowledge", fired_percent=0)
        .order_by("pk")
        .values_list("pk", flat=True)[:n]
    )
    began = now - timedelta(minutes=25)
    Clock.objects.filter(pk__in=ids).update(
        started_at=began,
        segment_started_at=began,
        due_at=began + timedelta(minutes=30),
        next_step_at=began + timedelta(seconds=1350),
    )


def main() -> None:
    from apps.handoffs.clockwork.sweep import sweep_due_clocks

    with _common.throwaway_database():
        now = datetime.now(UTC)
        build(now)
        print(f"\n{'due clocks':>10} {'sweep ms':>10} {'queries':>8} {'fired':>6} {'ms/due':>8}")
        for n in SCENARIOS:
            make_due(n, now)
            with _common.counting_queries() as queries:
                result = sweep_due_clocks(now=now)
            per = result.duration_ms / n if n else 0.0
            print(
                f"{n:>10,} {result.duration_ms:>10.1f} {queries():>8}"
                f" {len(result.fired):>6} {per:>8.2f}"
            )


if __name__ == "__main__":
    main()
