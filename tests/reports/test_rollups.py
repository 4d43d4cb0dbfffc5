"""Reports read the clock rollups and say what the clocks say: for random handoffs
(consumed times from seconds to days, over 8 h too; met, breached, running, cancelled;
reopened, waiting), random periods in random zones (partial days at the ends, local
months that start inside a UTC day) and every grouping the reports use, the figures from
the rollups equal `clock_compliance` over the clocks — counts, rates and sums exactly,
p50/p80/p95 as the exact nearest-rank values rounded down to the minute below 8 h and
to five minutes above."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.handoffs.compliance import breach_causes, clock_compliance
from apps.handoffs.models import Clock, ClockRollup
from apps.reports.forms import ReportQuery
from apps.reports.rollups import Scope, breach_cause_counts, plan, rollup_compliance
from apps.reviews.models import BreachReview
from tests.factories import AgreementFactory, UserFactory
from tests.reports import finished_handoff

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="reports read the rollups on PostgreSQL"
    ),
]

HOUR = 3600
START = datetime(2026, 1, 1, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
SHAPES = [
    ("team", "priority", "metric"),
    ("agreement", "metric"),
    ("priority", "metric"),
    ("segment", "metric"),
    ("month", "metric"),
    # Each handoff once: no metric in the grouping.
    ("team", "priority"),
    ("segment",),
    ("month",),
    (),
]
PERCENTILES = ("p50", "p80", "p95")

durations = st.one_of(
    st.integers(min_value=0, max_value=8 * HOUR - 1),
    st.integers(min_value=8 * HOUR, max_value=200 * HOUR),
    st.sampled_from([0, 59, 60, 8 * HOUR - 1, 8 * HOUR, 8 * HOUR + 299, 8 * HOUR + 300]),
)
handoffs = st.lists(
    st.fixed_dictionaries(
        {
            "agreement": st.integers(0, 1),
            "minutes": st.integers(min_value=0, max_value=75 * 24 * 60),
            "priority": st.sampled_from(["P1", "P2", "P3", "P4"]),
            "segment": st.sampled_from(["enterprise", "business", "self_serve"]),
            "durations": st.dictionaries(
                st.sampled_from(["acknowledge", "action_plan", "resolve"]), durations, min_size=1
            ),
            "unfinished": st.dictionaries(
                st.sampled_from(["acknowledge", "action_plan", "resolve"]),
                st.sampled_from(["running", "cancelled"]),
                max_size=1,
            ),
            "reopen_count": st.sampled_from([0, 0, 1]),
            "waiting_seconds": st.sampled_from([0, 0, 600, 86400]),
            "paused_seconds": st.sampled_from([0, 300]),
        }
    ),
    min_size=1,
    max_size=12,
)


def rounded(seconds: int | None) -> int | None:
    """The exact figure as the rollups hold it: down to the minute, five above 8 h."""
    if seconds is None or seconds < 8 * HOUR:
        return None if seconds is None else seconds - seconds % 60
    return seconds - (seconds - 8 * HOUR) % 300


def assert_same_figures(from_rollups: list[dict], exact: list[dict]) -> None:
    assert len(from_rollups) == len(exact), (from_rollups, exact)
    for mine, theirs in zip(from_rollups, exact, strict=True):
        for name, value in theirs.items():
            if name in PERCENTILES:
                assert mine[name] == rounded(value), (name, mine, theirs)
            else:
                assert mine[name] == value, (name, mine, theirs)


@pytest.fixture
def two_agreements(agreement, requesting_team, other_team):
    """Support → Engineering, and Support → Finance (which Engineering does not see)."""
    second = AgreementFactory(
        series__provider_team=other_team, series__requesting_team=requesting_team
    )
    return [agreement, second]


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=handoffs,
    zone=st.sampled_from(ZONES),
    first=st.integers(min_value=0, max_value=40),
    days=st.integers(min_value=1, max_value=75),
    shape=st.sampled_from(SHAPES),
    as_member=st.booleans(),
    priority=st.sampled_from([None, None, "P3"]),
)
def test_figures_from_the_rollups_equal_the_clocks_to_the_minute(
    two_agreements, staff, provider_member, data, zone, first, days, shape, as_member, priority
):
    with transaction.atomic():
        for h in data:
            finished_handoff(
                two_agreements[h["agreement"]],
                priority=h["priority"],
                created_at=START + timedelta(minutes=h["minutes"]),
                durations=h["durations"],
                statuses=h["unfinished"],
                reopen_count=h["reopen_count"],
                waiting_seconds=h["waiting_seconds"],
                paused_seconds=h["paused_seconds"],
                segment=h["segment"],
            )
        since_day = date(2026, 1, 1) + timedelta(days=first)
        query = ReportQuery(
            since=since_day, until=since_day + timedelta(days=days - 1), priority=priority
        )
        since, until = query.bounds(zone)
        user = provider_member if as_member else staff
        clocks = Clock.objects.visible_to(user).filter(started_at__gte=since, started_at__lt=until)
        if priority:
            clocks = clocks.filter(priority=priority)
        exact = clock_compliance(clocks, group_by=shape, tz=zone)
        from_rollups = rollup_compliance(
            scope=Scope.of(user, priority=priority),
            since=since,
            until=until,
            group_by=shape,
            tz=zone,
        )
        assert_same_figures(from_rollups, exact)
        transaction.set_rollback(True)


def test_a_period_is_read_from_months_days_and_the_partial_days_at_its_ends():
    berlin = ZoneInfo("Europe/Berlin")
    since = datetime(2026, 1, 20, tzinfo=berlin)  # 19 January, 23:00 UTC
    until = datetime(2026, 4, 3, tzinfo=berlin)  # 2 April, 22:00 UTC (summer time)
    by_team = plan(since, until, tz="Europe/Berlin", by_month=False)
    assert by_team.months == [date(2026, 2, 1), date(2026, 3, 1)]
    assert by_team.days[0] == date(2026, 1, 20) and by_team.days[-1] == date(2026, 4, 1)
    assert by_team.exact == [
        (datetime(2026, 1, 19, 23, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC)),
        (datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 4, 2, 22, tzinfo=UTC)),
    ]
    # By Berlin's months: a Berlin month starts an hour or two before UTC's. The hours of
    # a UTC month's row that belong to the next Berlin month are read from the clocks and
    # taken back out of the row's month; a UTC day a month starts in, outside a month
    # row, is read from the clocks.
    by_month = plan(since, until, tz="Europe/Berlin", by_month=True)
    assert by_month.months == [date(2026, 2, 1), date(2026, 3, 1)]
    feb_end = (datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    mar_end = (datetime(2026, 3, 31, 22, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert by_month.corrections == [(*feb_end, date(2026, 2, 1)), (*mar_end, date(2026, 3, 1))]
    assert by_month.exact == [
        (datetime(2026, 1, 19, 23, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
        feb_end,
        mar_end,
        (datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 4, 2, 22, tzinfo=UTC)),
    ]
    assert date(2026, 4, 1) in by_month.days
    # Most of January: its row, less the days before the period and the hours of 3
    # January before it.
    since = datetime(2026, 1, 4, tzinfo=berlin)  # 3 January, 23:00 UTC
    mostly = plan(since, until, tz="Europe/Berlin", by_month=False)
    assert mostly.months == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert mostly.minus_days == [date(2026, 1, 1), date(2026, 1, 2)]
    assert mostly.corrections == [
        (datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 3, 23, tzinfo=UTC), date(2026, 1, 1))
    ]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize(
    "period",
    [
        (date(2026, 1, 1), date(2026, 4, 30)),
        # Months mostly in the period: their rows less the days outside it.
        (date(2026, 1, 4), date(2026, 3, 27)),
    ],
)
def test_months_read_from_month_rows_count_each_handoff_in_its_local_month(
    agreement, staff, zone, period
):
    moments = [
        datetime(2026, 1, 15, 12, tzinfo=UTC),
        datetime(2026, 1, 31, 23, 30, tzinfo=UTC),  # February in Berlin and Kolkata
        datetime(2026, 2, 1, 2, tzinfo=UTC),  # still January in New York
        datetime(2026, 2, 28, 20, tzinfo=UTC),  # March in Kolkata
        datetime(2026, 3, 31, 22, 30, tzinfo=UTC),  # April in Berlin (summer time)
        datetime(2026, 4, 1, 3, tzinfo=UTC),  # March in New York
        datetime(2026, 1, 2, 12, tzinfo=UTC),
        datetime(2026, 3, 28, 12, tzinfo=UTC),
        datetime(2026, 3, 27, 4, 30, tzinfo=UTC),  # 26 March in New York
    ]
    for index, moment in enumerate(moments):
        finished_handoff(
            agreement,
            priority="P2",
            created_at=moment,
            durations={"acknowledge": 600 * (index + 1), "resolve": 9 * HOUR + 61 * index},
        )
    since, until = ReportQuery(since=period[0], until=period[1]).bounds(zone)
    assert plan(since, until, tz=zone, by_month=True).corrections
    clocks = Clock.objects.filter(started_at__gte=since, started_at__lt=until)
    for shape in (("month", "metric"), ("month",), ("team", "priority", "metric")):
        exact = clock_compliance(clocks, group_by=shape, tz=zone)
        from_rollups = rollup_compliance(
            scope=Scope.of(staff), since=since, until=until, group_by=shape, tz=zone
        )
        assert_same_figures(from_rollups, exact)


def test_percentiles_found_bin_by_bin_equal_the_clocks_over_many_bins(
    two_agreements, staff, provider_member
):
    """Hundreds of clocks a group, spread over dozens of bins (a minute to 60 h), in a
    period read from month rows less days and hours (rows with both signs): the bin a
    percentile falls in, then its bucket, are those of the exact value."""
    for i in range(240):
        finished_handoff(
            two_agreements[i % 2],
            priority=["P1", "P2", "P3"][i % 3],
            created_at=START + timedelta(hours=9 * i + 5),
            durations={
                "acknowledge": (i * 7919) % (60 * HOUR),
                "resolve": (i * 104729) % (12 * HOUR) + 37,
            },
            segment=["enterprise", "business"][i // 7 % 2],
        )
    for zone in ("Europe/Berlin", "America/New_York"):
        since, until = ReportQuery(since=date(2026, 1, 4), until=date(2026, 3, 27)).bounds(zone)
        assert plan(since, until, tz=zone, by_month=False).minus_days
        for user in (staff, provider_member):
            clocks = Clock.objects.visible_to(user).filter(
                started_at__gte=since, started_at__lt=until
            )
            for shape in SHAPES:
                exact = clock_compliance(clocks, group_by=shape, tz=zone)
                from_rollups = rollup_compliance(
                    scope=Scope.of(user), since=since, until=until, group_by=shape, tz=zone
                )
                assert_same_figures(from_rollups, exact)


def test_breach_causes_read_in_one_statement_equal_the_orm_query(
    two_agreements, staff, provider_member
):
    reviewer = UserFactory(username="reviewer")
    for i in range(30):
        handoff = finished_handoff(
            two_agreements[i % 2],
            priority=["P1", "P2", "P3"][i % 3],
            created_at=START + timedelta(days=i * 2, hours=23),
            durations={"acknowledge": 10 * HOUR, "resolve": 200 * HOUR},
            segment=["enterprise", "business"][i // 3 % 2],
        )
        if i % 3:
            BreachReview.objects.create(
                clock=Clock.objects.get(handoff=handoff, metric="acknowledge"),
                root_cause=["capacity", "skills"][i % 2],
                what_happened="Seeded",
                reviewed_by=reviewer,
            )
    since, until = ReportQuery(since=date(2026, 1, 10), until=date(2026, 2, 20)).bounds(
        "Asia/Kolkata"
    )
    for user in (staff, provider_member):
        for shape in (("month",), ("team",), ("agreement",), ("priority",), ("segment",)):
            for priority in (None, "P2"):
                clocks = Clock.objects.visible_to(user).filter(
                    started_at__gte=since, started_at__lt=until
                )
                if priority:
                    clocks = clocks.filter(priority=priority)
                expected = breach_causes(clocks, group_by=shape, tz="Asia/Kolkata")
                assert expected
                assert (
                    breach_cause_counts(
                        scope=Scope.of(user, priority=priority),
                        since=since,
                        until=until,
                        group_by=shape,
                        tz="Asia/Kolkata",
                    )
                    == expected
                )


def test_the_report_api_reads_the_rollups(client, provider_member, agreement):
    for day, seconds in ((3, 600), (10, 9000), (40, 30 * HOUR)):
        finished_handoff(
            agreement,
            priority="P2",
            created_at=START + timedelta(days=day, hours=12),
            durations={"acknowledge": seconds},
        )
    client.force_login(provider_member)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            "/api/reports/compliance/",
            {"from": "2026-01-01", "to": "2026-03-31", "group_by": "priority"},
        )
    assert response.status_code == 200
    [ack] = response.json()["rows"]
    assert (ack["volume"], ack["met"], ack["breached"]) == (3, 1, 2)
    assert (ack["p50"], ack["p95"]) == (9000, 30 * HOUR)
    table = ClockRollup._meta.db_table
    assert any(table in q["sql"] for q in queries.captured_queries)


def test_groupings_the_rollups_do_not_hold_fall_back_to_the_clocks(staff):
    assert (
        rollup_compliance(
            scope=Scope.of(staff),
            since=START,
            until=START + timedelta(days=30),
            group_by=("period",),
        )
        is None
    )
