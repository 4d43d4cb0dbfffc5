"""What-if replay: proposed targets against the period's recorded business-time durations."""

from datetime import timedelta

import pytest

from apps.reviews.pack import build_pack, targets_of
from apps.reviews.whatif import replay
from tests.factories import AgreementFactory, TeamFactory
from tests.helpers import berlin
from tests.reports import finished_handoff

from .conftest import PERIOD_END, PERIOD_START, REVIEW_DAY

pytestmark = pytest.mark.django_db

# Acknowledge times (seconds) of seventeen P2 handoffs, and resolve times of five P3 ones.
P2_ACKNOWLEDGE = [600, 1200, 300, 5400, 900, 2400, 7800, 3000, 1800, 4200, 660, 9000, 1500,
                  3600, 7000, 2100, 12000]  # fmt: skip
P3_RESOLVE = [20_000, 90_000, 150_000, 300_000, 400_000]


@pytest.fixture
def seeded(agreement):
    start = berlin(2026, 2, 2, 9, 0)
    for n, seconds in enumerate(P2_ACKNOWLEDGE):
        finished_handoff(agreement, priority="P2", created_at=start + timedelta(hours=n),
                         durations={"acknowledge": seconds})  # fmt: skip
    for n, seconds in enumerate(P3_RESOLVE):
        finished_handoff(agreement, priority="P3", created_at=start + timedelta(days=n),
                         durations={"resolve": seconds})  # fmt: skip
    # Not replayed: a clock still running, and a handoff of the next quarter.
    finished_handoff(agreement, priority="P2", created_at=start, durations={"acknowledge": 1},
                     statuses={"acknowledge": "running"})  # fmt: skip
    finished_handoff(agreement, priority="P2", created_at=berlin(2026, 4, 1, 0, 30),
                     durations={"acknowledge": 1})  # fmt: skip
    return agreement


def row_of(rows, priority, metric):
    (row,) = [r for r in rows if (r["priority"], r["metric"]) == (priority, metric)]
    return row


def test_the_replayed_compliance_equals_a_hand_count(seeded):
    proposed = targets_of(seeded)
    proposed["P2"]["acknowledge"] = 3600
    proposed["P3"]["resolve"] = 100 * 3600

    rows = replay(
        series=seeded.series, period_start=PERIOD_START, period_end=PERIOD_END, targets=proposed
    )

    within_an_hour = [s for s in P2_ACKNOWLEDGE if s <= 3600]
    assert len(within_an_hour) == 11  # 300 … 3600, the last one exactly on the target
    p2 = row_of(rows, "P2", "acknowledge")
    assert (p2["target_seconds"], p2["volume"], p2["met"]) == (3600, 17, 11)
    assert p2["met_pct"] == round(100 * 11 / 17, 1) == 64.7
    p3 = row_of(rows, "P3", "resolve")
    assert [s for s in P3_RESOLVE if s <= 360_000] == [20_000, 90_000, 150_000, 300_000]
    assert (p3["volume"], p3["met"], p3["met_pct"]) == (5, 4, 80.0)
    # Proposals without data: nothing to replay.
    p1 = row_of(rows, "P1", "acknowledge")
    assert (p1["volume"], p1["met"], p1["met_pct"]) == (0, 0, None)


def test_the_current_targets_replay_to_the_packs_met_rate(seeded, review):
    rows = replay(
        series=seeded.series,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        targets=targets_of(seeded),
    )
    pack = build_pack(review=review, now=REVIEW_DAY)
    for section_row in pack["period"]["rows"]:
        if section_row["volume"]:
            replayed = row_of(rows, section_row["priority"], section_row["metric"])
            assert replayed["met_pct"] == section_row["met_pct"]


def test_a_best_effort_proposal_has_no_met_rate(seeded):
    proposed = targets_of(seeded)
    proposed["P2"]["acknowledge"] = None
    rows = replay(
        series=seeded.series, period_start=PERIOD_START, period_end=PERIOD_END, targets=proposed
    )
    p2 = row_of(rows, "P2", "acknowledge")
    assert (p2["target_seconds"], p2["volume"], p2["met"], p2["met_pct"]) == (None, 17, None, None)


def test_one_query_however_many_clocks(seeded, django_assert_num_queries):
    proposed = targets_of(seeded)
    with django_assert_num_queries(1):
        few = replay(
            series=seeded.series,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            targets=proposed,
            tz="Europe/Berlin",
        )
    for n in range(30):
        finished_handoff(seeded, priority="P4", created_at=berlin(2026, 3, 2, 9, n),
                         durations={"acknowledge": 60 * n})  # fmt: skip
    with django_assert_num_queries(1):
        many = replay(
            series=seeded.series,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            targets=proposed,
            tz="Europe/Berlin",
        )
    assert row_of(few, "P4", "acknowledge")["volume"] == 0
    assert row_of(many, "P4", "acknowledge")["volume"] == 30


def test_other_series_are_not_replayed_and_unknown_priorities_are_shown(seeded, requesting_team):
    elsewhere = AgreementFactory(
        series__provider_team=TeamFactory(name="Billing", slug="billing"),
        series__requesting_team=requesting_team,
    )
    finished_handoff(elsewhere, priority="P2", created_at=berlin(2026, 2, 3, 9, 0),
                     durations={"acknowledge": 60})  # fmt: skip
    rows = replay(
        series=seeded.series,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        targets={"P3": {"acknowledge": 3600, "action_plan": None, "resolve": 360_000}},
    )
    # P2 was not proposed: its handoffs are still shown, with no target.
    p2 = row_of(rows, "P2", "acknowledge")
    assert (p2["volume"], p2["target_seconds"], p2["met_pct"]) == (17, None, None)
    assert row_of(rows, "P3", "resolve")["met"] == 4
