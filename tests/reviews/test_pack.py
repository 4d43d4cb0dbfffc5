"""The compliance pack a quarterly review freezes, and the recommendations made from it."""

import json
import math
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.agreements.models import ExceptionWindow
from apps.agreements.models import Status as AgreementStatus
from apps.handoffs.models import Clock
from apps.reviews.models import BreachReview
from apps.reviews.pack import (
    build_pack,
    period_bounds,
    period_clocks,
    previous_period,
    recommendations_for,
    targets_of,
)
from tests.factories import AgreementFactory, TeamFactory
from tests.helpers import berlin
from tests.reports import finished_handoff

from .conftest import PERIOD_END, PERIOD_START, REVIEW_DAY

pytestmark = pytest.mark.django_db

# Acknowledge times (seconds) of seventeen P2 handoffs filed in February 2026.
P2_ACKNOWLEDGE = [600, 1200, 300, 5400, 900, 2400, 7800, 3000, 1800, 4200, 660, 9000, 1500,
                  3600, 7000, 2100, 12000]  # fmt: skip


def seed(agreement, priority, metric, durations, start, **extra):
    for n, seconds in enumerate(durations):
        finished_handoff(
            agreement,
            priority=priority,
            created_at=start + timedelta(hours=3 * n),
            durations={metric: seconds},
            **extra,
        )


def row_of(section, priority, metric):
    (row,) = [r for r in section["rows"] if (r["priority"], r["metric"]) == (priority, metric)]
    return row


def recommendation(recommendations, priority, metric):
    (found,) = [r for r in recommendations if (r["priority"], r["metric"]) == (priority, metric)]
    return found


def test_the_pack_has_the_p80_computed_by_hand_and_recommends_from_it(agreement, review):
    seed(agreement, "P2", "acknowledge", P2_ACKNOWLEDGE, berlin(2026, 2, 2, 9, 0))

    pack = build_pack(review=review, now=REVIEW_DAY)
    recommendations = recommendations_for(agreement=agreement, pack=pack)

    # By hand: sort, take the value at rank ceil(0.8 × 17) = 14 (counting from 1).
    ordered = [300, 600, 660, 900, 1200, 1500, 1800, 2100, 2400, 3000, 3600, 4200, 5400,
               7000, 7800, 9000, 12000]  # fmt: skip
    assert ordered == sorted(P2_ACKNOWLEDGE)
    rank = math.ceil(0.8 * len(ordered))
    hand_p80 = ordered[rank - 1]
    assert (rank, hand_p80) == (14, 7000)
    row = row_of(pack["period"], "P2", "acknowledge")
    assert row["p80"] == hand_p80
    assert (row["volume"], row["met"], row["breached"], row["met_pct"]) == (17, 14, 3, 82.4)
    assert row["target_seconds"] == 2 * 3600

    # + 10 % buffer: 7700 s; up to the next quarter hour (targets ≤ 8 h): 9 × 900 = 8100 s.
    hand_recommended = math.ceil(hand_p80 * 1.10 / 900) * 900
    assert hand_recommended == 8100
    found = recommendation(recommendations, "P2", "acknowledge")
    assert (found["current_seconds"], found["recommended_seconds"], found["basis"]) == (
        7200,
        hand_recommended,
        "p80",
    )
    assert found["reason"] == (
        "80 % of 17 P2 handoffs were acknowledged within 1 h 56 min; "
        "+10 % buffer, rounded → 2 h 15 min."
    )
    # Nothing else happened in the period: everything else keeps its target.
    others = [r for r in recommendations if (r["priority"], r["metric"]) != ("P2", "acknowledge")]
    assert {r["basis"] for r in others} == {"no_data"}
    assert all(r["recommended_seconds"] == r["current_seconds"] for r in others)


def test_the_buffer_comes_from_the_setting(agreement, review, settings):
    settings.REVIEW_BUFFER_PERCENT = 20
    seed(agreement, "P2", "acknowledge", P2_ACKNOWLEDGE, berlin(2026, 2, 2, 9, 0))
    pack = build_pack(review=review, now=REVIEW_DAY)
    found = recommendation(recommendations_for(agreement=agreement, pack=pack), "P2", "acknowledge")
    # 7000 × 1.2 = 8400 s → 9000 s (2 h 30 min).
    assert found["recommended_seconds"] == 9000
    assert "+20 % buffer" in found["reason"]


def test_three_months_met_at_95_percent_or_more_tighten_the_target(agreement, review):
    # P3 acknowledge (8 business h): all met in January, 19 of 20 in February, all in
    # March 2026 — three months of the quarter under review (no earlier quarter needed).
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 1, 5, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 19 + [30_000], berlin(2026, 2, 2, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 3, 2, 9, 0))

    pack = build_pack(review=review, now=REVIEW_DAY)

    assert [(h["start"], h["end"]) for h in pack["history"]] == [
        ("2026-01-01", "2026-02-01"),
        ("2026-02-01", "2026-03-01"),
        ("2026-03-01", "2026-04-01"),
    ]
    assert [row_of(h, "P3", "acknowledge")["met_pct"] for h in pack["history"]] == [
        100.0,
        95.0,
        100.0,
    ]
    found = recommendation(recommendations_for(agreement=agreement, pack=pack), "P3", "acknowledge")
    # 8 h less 12.5 %: 7 h, a whole quarter hour inside the 10–15 % band.
    assert (found["basis"], found["recommended_seconds"]) == ("tighten", 7 * 3600)
    assert found["reason"] == (
        "Met in at least 95 % of cases in each of the last three months "
        "(100 %, 95 %, 100 %): tighten 8 business h by 12.5 % → 7 business h."
    )


def test_three_quarters_at_95_percent_are_not_enough_when_a_recent_month_was_not(agreement, review):
    # Q3 and Q4 2025 all met; in Q1 2026 January was all met, February 90 %, March all met:
    # the quarter as a whole is ≥ 95 %, but not each of its last three months.
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2025, 8, 4, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2025, 11, 3, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 1, 5, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 9 + [30_000], berlin(2026, 2, 2, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 3, 2, 9, 0))
    pack = build_pack(review=review, now=REVIEW_DAY)
    assert row_of(pack["period"], "P3", "acknowledge")["met_pct"] == 98.0
    found = recommendation(recommendations_for(agreement=agreement, pack=pack), "P3", "acknowledge")
    assert found["basis"] == "p80"


def test_a_month_without_work_breaks_the_streak(agreement, review):
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 1, 5, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 3, 2, 9, 0))
    pack = build_pack(review=review, now=REVIEW_DAY)
    found = recommendation(recommendations_for(agreement=agreement, pack=pack), "P3", "acknowledge")
    assert found["basis"] == "p80"


def test_a_month_below_95_percent_recommends_from_the_p80_instead(agreement, review):
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 1, 5, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 18 + [30_000] * 2, berlin(2026, 2, 2, 9, 0))
    seed(agreement, "P3", "acknowledge", [3600] * 20, berlin(2026, 3, 2, 9, 0))
    pack = build_pack(review=review, now=REVIEW_DAY)
    found = recommendation(recommendations_for(agreement=agreement, pack=pack), "P3", "acknowledge")
    # 90 % in February. p80 = 1 h; + 10 % = 1 h 6 min → 1 h 15 min.
    assert (found["basis"], found["recommended_seconds"]) == ("p80", 4500)


def test_the_pack_holds_the_period_before_and_is_plain_json(agreement, review):
    seed(agreement, "P3", "acknowledge", [600, 1200, 40_000], berlin(2026, 2, 2, 9, 0),
         waiting_seconds=600, reopen_count=0)  # fmt: skip
    seed(agreement, "P3", "acknowledge", [1800], berlin(2025, 11, 3, 9, 0), reopen_count=1)
    # Still open: counted as a handoff of the period, in no compliance figure.
    finished_handoff(
        agreement,
        priority="P1",
        created_at=berlin(2026, 3, 2, 9, 0),
        durations={"acknowledge": 60},
        statuses={"acknowledge": "running"},
    )

    pack = build_pack(review=review, now=REVIEW_DAY)

    assert json.loads(json.dumps(pack)) == pack
    assert pack["built_at"] == REVIEW_DAY.astimezone(UTC).isoformat()
    assert pack["targets"] == targets_of(agreement)
    period, previous = pack["period"], pack["previous"]
    assert (period["start"], period["end"], period["handoffs"]) == ("2026-01-01", "2026-04-01", 4)
    assert (previous["start"], previous["end"], previous["handoffs"]) == (
        "2025-10-01",
        "2026-01-01",
        1,
    )
    # Every priority × metric of the agreement, in order, with or without data.
    assert [(r["priority"], r["metric"]) for r in period["rows"]] == [
        (p, m) for p in ("P1", "P2", "P3", "P4") for m in ("acknowledge", "action_plan", "resolve")
    ]
    now_row = row_of(period, "P3", "acknowledge")
    assert (now_row["volume"], now_row["met_pct"], now_row["p50"], now_row["p95"]) == (
        3,
        66.7,
        1200,
        40_000,
    )
    assert (now_row["waiting_seconds_avg"], now_row["reopen_pct"]) == (600, 0.0)
    assert row_of(previous, "P3", "acknowledge")["reopen_pct"] == 100.0
    empty = row_of(period, "P1", "acknowledge")
    assert (empty["volume"], empty["met_pct"], empty["p80"], empty["target_seconds"]) == (
        0,
        None,
        None,
        1800,
    )
    # Month by month (the three of February were filed in February; March's is running).
    assert [h["rows"] for h in pack["history"]] == [
        [],
        [{"priority": "P3", "metric": "acknowledge", "met_pct": 66.7}],
        [],
    ]


def test_the_period_is_read_in_local_dates_of_the_calendar(agreement, review):
    # Engineering's calendar is in Berlin: the quarter runs from midnight to midnight there.
    assert period_bounds(agreement=agreement, start=PERIOD_START, end=PERIOD_END) == (
        datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 22, 0, tzinfo=UTC),  # summer time since 29 March
    )
    for at, seconds in [
        (berlin(2025, 12, 31, 23, 30), 100),  # previous quarter
        (berlin(2026, 1, 1, 0, 30), 200),  # 31 December in UTC, but January in Berlin
        (berlin(2026, 3, 31, 23, 30), 300),  # last half hour of the quarter
        (berlin(2026, 4, 1, 0, 30), 400),  # 31 March in UTC, but the next quarter
    ]:
        finished_handoff(
            agreement, priority="P3", created_at=at, durations={"acknowledge": seconds}
        )

    pack = build_pack(review=review, now=REVIEW_DAY)

    clocks = period_clocks(series=agreement.series, start=PERIOD_START, end=PERIOD_END)
    assert sorted(clocks.values_list("consumed_seconds", flat=True)) == [200, 300]
    assert (row_of(pack["period"], "P3", "acknowledge")["volume"], pack["period"]["handoffs"]) == (
        2,
        2,
    )
    assert row_of(pack["previous"], "P3", "acknowledge")["p50"] == 100


def test_every_version_of_the_series_counts_and_nothing_else(agreement, review, requesting_team):
    older = AgreementFactory(series=agreement.series, version=0, status=AgreementStatus.SUPERSEDED)
    elsewhere = AgreementFactory(
        series__provider_team=TeamFactory(name="Billing", slug="billing"),
        series__requesting_team=requesting_team,
    )
    at = berlin(2026, 2, 2, 10, 0)
    finished_handoff(agreement, priority="P3", created_at=at, durations={"acknowledge": 100})
    finished_handoff(older, priority="P3", created_at=at, durations={"acknowledge": 200})
    finished_handoff(elsewhere, priority="P3", created_at=at, durations={"acknowledge": 999})

    pack = build_pack(review=review, now=REVIEW_DAY)

    row = row_of(pack["period"], "P3", "acknowledge")
    assert (row["volume"], row["p95"], pack["period"]["handoffs"]) == (2, 200, 2)


def test_breaches_are_counted_by_cause_with_unreviewed_ones(
    agreement, review, provider_lead, breached_clock
):
    # One breach made the real way (acknowledged an hour late), three seeded.
    real = breached_clock("P1", at=berlin(2026, 3, 2, 10, 0))
    seed(agreement, "P2", "acknowledge", [8000, 9000, 10_000], berlin(2026, 2, 2, 9, 0))
    seeded = list(Clock.objects.filter(status="breached").exclude(pk=real.pk))
    for clock, cause in zip(seeded, ["capacity", "process"], strict=False):
        BreachReview.objects.create(  # its service is tested with breach reviews
            clock=clock, root_cause=cause, what_happened="Nobody on call", reviewed_by=provider_lead
        )

    pack = build_pack(review=review, now=REVIEW_DAY)

    assert pack["period"]["breach_causes"] == {
        "capacity": 1,
        "skills": 0,
        "process": 1,
        "systems": 0,
        "customer": 0,
        "other": 0,
        "unreviewed": 2,
    }
    assert row_of(pack["period"], "P1", "acknowledge")["breached"] == 1


def test_the_exception_windows_that_applied_are_listed(agreement, review, provider_lead):
    def window(start, end, reason, *, series=agreement.series, team=None, status="approved"):
        return ExceptionWindow.objects.create(
            provider_team=team or agreement.series.provider_team,
            series=series,
            start=start,
            end=end,
            reason=reason,
            status=status,
            requested_by=provider_lead,
        )

    window(berlin(2026, 2, 10, 9), berlin(2026, 2, 10, 17), "Data-centre outage")
    window(berlin(2025, 12, 31, 20), berlin(2026, 1, 1, 2), "Year-end freeze", series=None)
    window(berlin(2026, 3, 3, 9), berlin(2026, 3, 3, 12), "Not approved", status="requested")
    window(berlin(2026, 3, 4, 9), berlin(2026, 3, 4, 12), "Other team",
           series=None, team=TeamFactory(name="Billing", slug="billing"))  # fmt: skip
    window(berlin(2026, 4, 2, 9), berlin(2026, 4, 2, 12), "Next quarter")
    window(berlin(2025, 11, 5, 9), berlin(2025, 11, 5, 12), "Last quarter")

    pack = build_pack(review=review, now=REVIEW_DAY)

    assert [(w["reason"], w["scope"]) for w in pack["period"]["exception_windows"]] == [
        ("Year-end freeze", "team"),
        ("Data-centre outage", "agreement"),
    ]
    assert pack["period"]["exception_windows"][1]["start"] == "2026-02-10T08:00:00+00:00"
    assert [w["reason"] for w in pack["previous"]["exception_windows"]] == [
        "Last quarter",
        "Year-end freeze",
    ]


def test_building_a_pack_takes_the_same_queries_for_any_number_of_handoffs(agreement, review):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            build_pack(review=review, now=REVIEW_DAY)
        return len(captured.captured_queries)

    seed(agreement, "P2", "acknowledge", [600], berlin(2026, 2, 2, 9, 0))
    few = queries()
    seed(agreement, "P2", "acknowledge", P2_ACKNOWLEDGE * 2, berlin(2026, 1, 5, 9, 0))
    seed(agreement, "P3", "resolve", P2_ACKNOWLEDGE, berlin(2025, 11, 3, 9, 0))
    many = queries()
    assert few == many <= 10


def test_a_pack_can_be_built_for_a_series_without_a_review(agreement):
    seed(agreement, "P2", "acknowledge", [600, 1200], berlin(2026, 2, 2, 9, 0))
    pack = build_pack(
        series=agreement.series, period_start=PERIOD_START, period_end=PERIOD_END, now=REVIEW_DAY
    )
    assert pack["agreement"] == {"id": agreement.pk, "version": agreement.version}
    assert row_of(pack["period"], "P2", "acknowledge")["p50"] == 600
    with pytest.raises(ValueError):
        build_pack(series=agreement.series, period_start=PERIOD_END, period_end=PERIOD_START,
                   now=REVIEW_DAY)  # fmt: skip


@pytest.mark.parametrize(
    ("period", "previous"),
    [
        ((date(2026, 1, 1), date(2026, 4, 1)), (date(2025, 10, 1), date(2026, 1, 1))),
        ((date(2026, 2, 15), date(2026, 3, 15)), (date(2026, 1, 15), date(2026, 2, 15))),
        ((date(2026, 3, 2), date(2026, 3, 16)), (date(2026, 2, 16), date(2026, 3, 2))),
        ((date(2026, 1, 31), date(2026, 4, 30)), (date(2025, 11, 3), date(2026, 1, 31))),
    ],
)
def test_the_previous_period_steps_back_whole_months_or_days(period, previous):
    assert previous_period(*period) == previous


def test_targets_in_the_shared_shape(agreement):
    assert targets_of(agreement)["P1"] == {
        "acknowledge": 1800,
        "action_plan": 7200,
        "resolve": 8 * 3600,
    }
    assert targets_of(agreement)["P4"] == {
        "acknowledge": 24 * 3600,
        "action_plan": None,
        "resolve": None,
    }


@pytest.mark.parametrize(
    "day,months,expected",
    [
        (date(2026, 12, 31), -3, date(2026, 9, 30)),
        (date(2026, 3, 29), -1, date(2026, 2, 28)),
        (date(2028, 3, 29), -1, date(2028, 2, 29)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_months_are_added_inside_the_month(day, months, expected):
    from apps.reviews.pack import _add_months

    assert _add_months(day, months) == expected


def test_a_pack_for_a_period_ending_on_the_29th_to_31st_has_its_three_months(agreement):
    from apps.reviews.pack import last_months

    assert last_months(date(2026, 3, 29)) == [
        (date(2025, 12, 29), date(2026, 1, 29)),
        (date(2026, 1, 29), date(2026, 2, 28)),
        (date(2026, 2, 28), date(2026, 3, 29)),
    ]
    pack = build_pack(
        series=agreement.series,
        agreement=agreement,
        period_start=date(2025, 12, 31),
        period_end=date(2026, 3, 31),
        now=REVIEW_DAY,
    )
    assert len(pack["history"]) == 3
