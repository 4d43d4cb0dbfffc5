"""Clock sweep cost with 100,000 running clocks, of which 0, 100 or 1,000 are due.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/olaportal .venv/bin/python bench/sweep.py

Builds a throw-away database (`<name>_bench`) with bulk inserts (P1 handoffs whose clocks
are started by the clock arithmetic, with their deadlines and report copies, as the
services start them), then for each scenario makes N handoffs due (filed 25 minutes ago:
their acknowledge warning has passed) and times the sweep as the task runs it — batches of
at most 500 clocks until nothing is due — wall time, SQL statements (counted with an
execute_wrapper), SQL per fired step, batches and group transactions, with the load
average (the machine is shared: compare figures within one run). The claims: the work
grows with N, not with the 100,000, and costs at most 2 SQL per fired step. Prints
figures; asserts nothing. BENCH_RUNNING sets the number of running clocks.
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


def running_clock(handoff, metric: str, target, ctx, began: datetime):
    """A clock running since `began` as the services start one: its history, its report
    copies and its due, warning, breach and next-step moments."""
    from apps.handoffs.clockwork import arithmetic as clockwork
    from apps.handoffs.models import Clock

    clock = Clock(
        handoff=handoff,
        metric=metric,
        provider_team_id=handoff.provider_team_id,
        requesting_team_id=handoff.requesting_team_id,
        series_id=ctx.agreement.series_id,
        priority=handoff.priority,
        customer_segment=handoff.customer_segment,
        target_seconds=target.seconds_for(metric),
        around_the_clock=target.around_the_clock,
    )
    clockwork.start(clock, began)
    ctx.refresh(clock)
    return clock


def build(now: datetime):
    from _handoffs import explicit_timestamps

    from apps.agreements.models import Metric
    from apps.handoffs.clockwork.store import ClockContext
    from apps.handoffs.models import Clock, Handoff, Status
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
    ctx = ClockContext.load(agreement.pk)
    started = time.perf_counter()
    per_handoff = len(Metric.values)
    count = RUNNING // per_handoff
    batch = 5_000
    for offset in range(0, count, batch):
        with explicit_timestamps(Handoff):
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
                    created_at=now,
                    updated_at=now,
                    due_at=now + timedelta(seconds=p1.seconds_for("acknowledge")),
                )
                for n in range(min(batch, count - offset))
            )
        Clock.objects.bulk_create(
            (running_clock(h, metric, p1, ctx, now) for h in handoffs for metric in Metric.values),
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


def make_due(n: int, now: datetime, agreement) -> None:
    """N handoffs filed 25 min ago: their acknowledge clock's warning (75 % of 30 min) has
    passed. Clocks and handoffs rewritten as if they had started then."""
    from apps.handoffs.clockwork import arithmetic as clockwork
    from apps.handoffs.clockwork.store import ClockContext
    from apps.handoffs.models import Clock, Handoff

    ctx = ClockContext.load(agreement.pk)
    began = now - timedelta(minutes=25)
    handoffs = list(
        Handoff.objects.filter(clocks__metric="acknowledge", clocks__fired_percent=0).order_by(
            "pk"
        )[:n]
    )
    clocks = list(Clock.objects.filter(handoff__in=handoffs))
    for clock in clocks:
        clockwork.start(clock, began)
        ctx.refresh(clock)
    Clock.objects.bulk_update(
        clocks,
        ["started_at", "segment_started_at", "segments", "due_at", "warning_at", "breach_at",
         "next_step_at"],
        batch_size=1_000,
    )  # fmt: skip
    Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).update(
        created_at=began, due_at=began + timedelta(minutes=30)
    )


def sweep_all(now: datetime) -> list:
    """What the task does: one batch after another until nothing is due."""
    from apps.handoffs.clockwork.sweep import sweep_due_clocks

    batches = [sweep_due_clocks(now=now)]
    while batches[-1].more:
        batches.append(sweep_due_clocks(now=now))
    return batches


def main() -> None:
    from django.urls import reverse

    with _common.throwaway_database():
        now = datetime.now(UTC)
        agreement = build(now)
        reverse("handoffs:detail", kwargs={"pk": 1})  # a worker loaded its URLconf long ago
        print(
            f"\n{'due clocks':>10} {'sweep ms':>10} {'queries':>8} {'fired':>6} {'ms/due':>8}"
            f" {'SQL/step':>8} {'batches':>7} {'groups':>6} {'load avg':>16}"
        )
        for n in SCENARIOS:
            make_due(n, now, agreement)
            load = "/".join(f"{x:.2f}" for x in os.getloadavg())
            started = time.perf_counter()
            with _common.counting_queries() as queries:
                batches = sweep_all(now)
            ms = (time.perf_counter() - started) * 1000
            fired = sum(len(b.fired) for b in batches)
            print(
                f"{n:>10,} {ms:>10.1f} {queries():>8} {fired:>6} {ms / n if n else 0.0:>8.2f}"
                f" {queries() / fired if fired else 0.0:>8.2f} {len(batches):>7}"
                f" {sum(getattr(b, 'groups', 0) for b in batches):>6} {load:>16}"
            )


if __name__ == "__main__":
    main()
