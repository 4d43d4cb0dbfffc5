"""The compliance core (apps.handoffs.compliance): nearest-rank percentiles, met %, reopen
rate and time in the requester's court, computed in one query on SQLite and PostgreSQL."""

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from apps.handoffs import services
from apps.handoffs.compliance import breach_causes, clock_compliance
from apps.handoffs.models import Clock
from apps.reviews.models import BreachReview
from tests.factories import AgreementFactory, TeamFactory
from tests.helpers import TRIAGE, berlin

from . import finished_handoff

pytestmark = pytest.mark.django_db

# `agreement` (tests/conftest.py): Support → Engineering, standard tiers: P2 24×7
# (acknowledge 2 h), P3 on the Mon-Fri 09:00-17:00 Berlin calendar (acknowledge 8 h,
# action plan 40 h, resolve 80 h).


# Seventeen acknowledge times of P2 handoffs (seconds), in the order they happened.
P2_ACKNOWLEDGE = [600, 1200, 300, 5400, 900, 2400, 7800, 3000, 1800, 4200, 660, 9000, 1500,
                  3600, 7000, 2100, 12000]  # fmt: skip


FEBRUARY_2 = berlin(2026, 2, 2, 9, 0)


def seed_p2(agreement, durations=P2_ACKNOWLEDGE, start=FEBRUARY_2):
    for n, seconds in enumerate(durations):
        finished_handoff(
            agreement,
            priority="P2",
            created_at=start + timedelta(hours=5 * n),
            durations={"acknowledge": seconds},
        )


def row_of(rows, **keys):
    (row,) = [r for r in rows if all(r[k] == v for k, v in keys.items())]
    return row


def test_percentiles_are_nearest_rank_over_finished_clocks(agreement):
    seed_p2(agreement)
    # Neither a clock still running nor a cancelled one is in any figure.
    finished_handoff(
        agreement,
        priority="P2",
        created_at=berlin(2026, 2, 20, 9, 0),
        durations={"acknowledge": 50},
        statuses={"acknowledge": "running"},
    )
    finished_handoff(
        agreement,
        priority="P2",
        created_at=berlin(2026, 2, 20, 10, 0),
        durations={"acknowledge": 99_999},
        statuses={"acknowledge": "cancelled"},
    )

    rows = clock_compliance(Clock.objects.all(), group_by=("priority", "metric"))

    ordered = sorted(P2_ACKNOWLEDGE)
    assert ordered == [300, 600, 660, 900, 1200, 1500, 1800, 2100, 2400, 3000, 3600, 4200,
                       5400, 7000, 7800, 9000, 12000]  # fmt: skip
    n = len(ordered)
    # Nearest rank: the value at rank ceil(p·n), counting from 1.
    assert [math.ceil(p * n) for p in (0.5, 0.8, 0.95)] == [9, 14, 17]
    row = row_of(rows, priority="P2", metric="acknowledge")
    assert (row["p50"], row["p80"], row["p95"]) == (ordered[8], ordered[13], ordered[16])
    assert (row["p50"], row["p80"], row["p95"]) == (2400, 7000, 12000)
    # Target 2 h: 7800, 9000 and 12000 s breached it.
    assert (row["volume"], row["with_target"], row["met"], row["breached"]) == (17, 17, 14, 3)
    assert row["met_pct"] == 82.4
    assert [(r["priority"], r["metric"]) for r in rows] == [("P2", "acknowledge")]


def test_figures_read_what_the_handoff_services_recorded(agreement, requester, provider_member):
    """P3 runs on Engineering's Mon-Fri 09:00-17:00 Berlin hours."""

    def file(at):
        return services.handoff_create(
            actor=requester, agreement=agreement, title="Crash", priority="P3",
            triage=TRIAGE, now=at,
        )  # fmt: skip

    # A: acknowledged after 30 min; waits 2 h on the requester (action plan and resolve
    # pause); resolved an hour after the reply: 1 h + 1 h of business time.
    a = file(berlin(2026, 3, 2, 10, 0))
    services.handoff_acknowledge(handoff=a, actor=provider_member, now=berlin(2026, 3, 2, 10, 30))
    services.handoff_wait_on_requester(
        handoff=a, actor=provider_member, question="Which build?", now=berlin(2026, 3, 2, 11, 0)
    )
    services.handoff_resume(handoff=a, actor=requester, reply="4.2", now=berlin(2026, 3, 2, 13, 0))
    services.handoff_resolve(
        handoff=a, actor=provider_member, resolution="Fixed", now=berlin(2026, 3, 2, 14, 0)
    )
    # B: filed Friday 16:50, acknowledged Monday 09:40 (10 + 40 business minutes),
    # resolved at 10:40, reopened at 10:50 and resolved again at 11:50.
    b = file(berlin(2026, 3, 6, 16, 50))
    services.handoff_acknowledge(handoff=b, actor=provider_member, now=berlin(2026, 3, 9, 9, 40))
    services.handoff_resolve(
        handoff=b, actor=provider_member, resolution="Fixed", now=berlin(2026, 3, 9, 10, 40)
    )
    services.handoff_reopen(
        handoff=b, actor=requester, reason="Still crashes", now=berlin(2026, 3, 9, 10, 50)
    )
    services.handoff_resolve(
        handoff=b, actor=provider_member, resolution="Fixed", now=berlin(2026, 3, 9, 11, 50)
    )
    # C: filed before opening, acknowledged at 09:05, still being worked on.
    c = file(berlin(2026, 3, 3, 8, 0))
    services.handoff_acknowledge(handoff=c, actor=provider_member, now=berlin(2026, 3, 3, 9, 5))
    # D: cancelled: no verdict on any clock.
    d = file(berlin(2026, 3, 3, 10, 0))
    services.handoff_cancel(
        handoff=d, actor=requester, reason="Duplicate", now=berlin(2026, 3, 3, 11, 0)
    )

    rows = clock_compliance(Clock.objects.all(), group_by=("metric",), tz="Europe/Berlin")

    ack = row_of(rows, metric="acknowledge")
    # Sorted 300, 1800, 3000: ranks ceil(1.5) = 2, ceil(2.4) = 3, ceil(2.85) = 3.
    assert (ack["volume"], ack["met"], ack["met_pct"]) == (3, 3, 100.0)
    assert (ack["p50"], ack["p80"], ack["p95"]) == (1800, 3000, 3000)
    resolve = row_of(rows, metric="resolve")
    # A: 3600 + 3600 = 7200; B: 600 + 2400 + 3600 before the reopen, + 3600 after.
    assert (resolve["volume"], resolve["p50"], resolve["p80"]) == (2, 7200, 10200)
    assert resolve["paused_seconds"] == 7200
    assert (resolve["handoffs"], resolve["reopened"], resolve["reopen_pct"]) == (2, 1, 50.0)
    # Two hours in the requester's court over two handoffs.
    assert resolve["waiting_seconds_avg"] == 3600
    assert row_of(rows, metric="action_plan")["volume"] == 2


def test_a_handoff_counts_once_in_a_group_of_several_of_its_clocks(agreement):
    common = {"priority": "P3", "created_at": berlin(2026, 3, 2, 10, 0)}
    durations = {"acknowledge": 600, "action_plan": 3600, "resolve": 7200}
    finished_handoff(agreement, **common, durations=durations, reopen_count=2,
                     waiting_seconds=900)  # fmt: skip
    finished_handoff(agreement, **common, durations=durations, waiting_seconds=300)
    finished_handoff(agreement, **common, durations=durations)

    (row,) = clock_compliance(Clock.objects.all(), group_by=("priority",))

    assert (row["priority"], row["volume"], row["handoffs"]) == ("P3", 9, 3)
    assert (row["reopened"], row["reopen_pct"]) == (1, 33.3)
    assert row["waiting_seconds_avg"] == 400  # (900 + 300 + 0) / 3 handoffs, not / 9 clocks
    (overall,) = clock_compliance(Clock.objects.all(), group_by=())
    assert (overall["volume"], overall["handoffs"], overall["p50"]) == (9, 3, 3600)


def test_month_is_the_month_of_creation_in_the_given_zone(agreement):
    # 23:30 on 31 March in Berlin is March everywhere; 00:30 on 1 April in Berlin is
    # still 31 March (22:30) in UTC.
    finished_handoff(agreement, priority="P3", created_at=berlin(2026, 3, 31, 23, 30),
                     durations={"acknowledge": 600})  # fmt: skip
    finished_handoff(agreement, priority="P3", created_at=berlin(2026, 4, 1, 0, 30),
                     durations={"acknowledge": 1200})  # fmt: skip

    in_berlin = clock_compliance(Clock.objects.all(), group_by=("month",), tz="Europe/Berlin")
    in_utc = clock_compliance(Clock.objects.all(), group_by=("month",), tz="UTC")

    assert [(r["month"], r["volume"], r["p50"]) for r in in_berlin] == [
        (date(2026, 3, 1), 1, 600),
        (date(2026, 4, 1), 1, 1200),
    ]
    assert [(r["month"], r["volume"]) for r in in_utc] == [(date(2026, 3, 1), 2)]
    assert type(in_berlin[0]["month"]) is date


def test_groups_by_provider_team_series_and_segment(agreement, requesting_team):
    other = AgreementFactory(
        series__provider_team=TeamFactory(name="Billing", slug="billing"),
        series__requesting_team=requesting_team,
    )
    at = berlin(2026, 3, 2, 10, 0)
    finished_handoff(agreement, priority="P3", created_at=at, durations={"acknowledge": 60},
                     segment="enterprise")  # fmt: skip
    finished_handoff(agreement, priority="P3", created_at=at, durations={"acknowledge": 120})
    finished_handoff(other, priority="P3", created_at=at, durations={"acknowledge": 180})

    rows = clock_compliance(Clock.objects.all(), group_by=("team", "agreement", "segment"))

    assert sorted((r["team"], r["agreement"], r["segment"], r["p50"]) for r in rows) == sorted([
        (agreement.series.provider_team_id, agreement.series_id, "business", 120),
        (agreement.series.provider_team_id, agreement.series_id, "enterprise", 60),
        (other.series.provider_team_id, other.series_id, "business", 180),
    ])  # fmt: skip


def test_one_query_however_many_clocks(agreement, django_assert_num_queries):
    seed_p2(agreement, durations=[600, 1200])
    with django_assert_num_queries(1):
        small = clock_compliance(
            Clock.objects.all(), group_by=("priority", "metric", "month"), tz="Europe/Berlin"
        )
    seed_p2(agreement, durations=P2_ACKNOWLEDGE * 3, start=berlin(2026, 1, 5, 9, 0))
    with django_assert_num_queries(1):
        large = clock_compliance(
            Clock.objects.all(), group_by=("priority", "metric", "month"), tz="Europe/Berlin"
        )
    with django_assert_num_queries(1):
        breach_causes(Clock.objects.all(), group_by=("priority", "month"), tz="Europe/Berlin")
    assert sum(r["volume"] for r in small) == 2
    assert sum(r["volume"] for r in large) == 2 + 51


def test_no_finished_clocks_means_no_rows(agreement):
    finished_handoff(
        agreement,
        priority="P3",
        created_at=berlin(2026, 3, 2, 10, 0),
        durations={"acknowledge": 60},
        statuses={"acknowledge": "running"},
    )
    assert clock_compliance(Clock.objects.all(), group_by=()) == []
    assert clock_compliance(Clock.objects.all(), group_by=("metric",)) == []


def test_rates_without_percentiles_skip_them(agreement):
    seed_p2(agreement, durations=[600, 9000])
    (row,) = clock_compliance(Clock.objects.all(), group_by=("metric",), percentiles=False)
    assert (row["met"], row["breached"], row["met_pct"]) == (1, 1, 50.0)
    assert (row["p50"], row["p80"], row["p95"]) == (None, None, None)


def test_breaches_are_counted_by_root_cause_and_unreviewed(agreement, provider_lead):
    # Two hours is the P2 acknowledge target: every one of these breached.
    seed_p2(agreement, durations=[8000, 8100, 8200, 8300])
    finished_handoff(agreement, priority="P2", created_at=berlin(2026, 3, 2, 10, 0),
                     durations={"acknowledge": 60})  # fmt: skip
    breached = list(Clock.objects.filter(status="breached").order_by("pk"))
    # Breach reviews written straight to the table: their service is tested with reviews.
    for clock, cause in zip(breached, ["capacity", "capacity", "systems"], strict=False):
        BreachReview.objects.create(
            clock=clock, root_cause=cause, what_happened="Queue overflowed",
            reviewed_by=provider_lead,
        )  # fmt: skip

    rows = breach_causes(Clock.objects.all())
    by_priority = breach_causes(Clock.objects.all(), group_by=("priority",))

    assert [(r["root_cause"], r["count"]) for r in rows] == [
        ("capacity", 2),
        ("systems", 1),
        ("unreviewed", 1),
    ]
    assert {r["priority"] for r in by_priority} == {"P2"}


def test_unknown_group_names_are_refused():
    with pytest.raises(ValueError, match="Unknown group_by"):
        clock_compliance(Clock.objects.all(), group_by=("colour",))
    with pytest.raises(ValueError, match="repeat"):
        clock_compliance(Clock.objects.all(), group_by=("metric", "metric"))


def test_a_filtered_queryset_is_respected(agreement):
    """The caller's queryset decides the population (e.g. what a user may see)."""
    seed_p2(agreement, durations=[600, 1200, 1800])
    rows = clock_compliance(Clock.objects.filter(consumed_seconds__gt=700), group_by=("metric",))
    assert [(r["volume"], r["p50"]) for r in rows] == [(2, 1200)]


def test_percentile_ranks_are_exact_for_every_count_up_to_forty(agreement):
    # Values 1…40 minutes; the first n of them have p-th percentile ceil(p·n) minutes,
    # computed here in integers (no floating point to agree with by accident).
    seed_p2(agreement, durations=[60 * v for v in range(1, 41)])
    for n in range(1, 41):
        (row,) = clock_compliance(
            Clock.objects.filter(consumed_seconds__lte=60 * n), group_by=("metric",)
        )
        expected = [60 * (-(-a * n // b)) for a, b in ((1, 2), (4, 5), (19, 20))]
        assert [row["p50"], row["p80"], row["p95"]] == expected, n


def test_several_periods_are_compared_in_one_pass(agreement, django_assert_num_queries):
    seed_p2(agreement, durations=[600, 1200, 9000], start=berlin(2026, 1, 5, 9, 0))
    seed_p2(agreement, durations=[300, 9000, 9000, 9000], start=berlin(2026, 2, 2, 9, 0))
    seed_p2(agreement, durations=[60], start=berlin(2026, 3, 2, 9, 0))  # in no period
    periods = {
        "january": (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
        "february": (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
    }
    with django_assert_num_queries(1):
        rows = clock_compliance(Clock.objects.all(), group_by=("period",), periods=periods)
    # In the order of the periods given, not alphabetical.
    assert [(r["period"], r["volume"], r["met_pct"], r["p50"]) for r in rows] == [
        ("january", 3, 66.7, 1200),
        ("february", 4, 25.0, 9000),
    ]
    causes = breach_causes(Clock.objects.all(), group_by=("period",), periods=periods)
    assert [(r["period"], r["root_cause"], r["count"]) for r in causes] == [
        ("january", "unreviewed", 1),
        ("february", "unreviewed", 3),
    ]
    with pytest.raises(ValueError, match="needs the periods"):
        clock_compliance(Clock.objects.all(), group_by=("period",))
