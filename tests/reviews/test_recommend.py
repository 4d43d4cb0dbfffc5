"""Recommended targets: pure arithmetic on the pack's rows (no database, no Django)."""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.reviews.recommend import recommend, round_target, tighten

MIN = 60
HOUR = 3600
CURRENT = {"P1": {"acknowledge": 30 * MIN, "action_plan": 2 * HOUR, "resolve": None}}
TWENTY_FOUR_SEVEN = {"P1": True}
BUSINESS = {"P1": False}


def rows(volume=40, p80=None, metric="acknowledge", priority="P1"):
    return [{"priority": priority, "metric": metric, "volume": volume, "p80": p80}]


def history(*met_pcts, metric="acknowledge", priority="P1"):
    return [
        {"rows": [{"priority": priority, "metric": metric, "met_pct": pct}] if pct else []}
        for pct in met_pcts
    ]


def one(results, metric="acknowledge"):
    (found,) = [r for r in results if r["metric"] == metric]
    return found


@pytest.mark.parametrize(
    ("seconds", "rounded"),
    [
        (0, 0),
        (1, 5 * MIN),
        (22 * MIN + 1, 25 * MIN),
        (HOUR, HOUR),  # ≤ 1 h: 5-minute steps
        (HOUR + 1, HOUR + 15 * MIN),  # ≤ 8 h: quarter hours
        (2 * HOUR + 10 * MIN, 2 * HOUR + 15 * MIN),
        (8 * HOUR, 8 * HOUR),
        (8 * HOUR + 1, 9 * HOUR),  # ≤ 2 days: whole hours
        (47 * HOUR + 1, 48 * HOUR),
        (48 * HOUR + 1, 52 * HOUR),  # beyond: 4-hour blocks
        (73 * HOUR, 76 * HOUR),
    ],
)
def test_targets_round_up_to_units_people_write(seconds, rounded):
    assert round_target(seconds) == rounded


def test_the_p80_plus_the_buffer_rounded_up_with_a_readable_reason():
    # 2 h 10 min + 10 % = 2 h 23 min → 2 h 30 min (a quarter-hour step).
    results = recommend(
        rows=rows(volume=41, p80=2 * HOUR + 10 * MIN, metric="action_plan"),
        history=history(80.0, 90.0, 85.0, metric="action_plan"),
        current_targets=CURRENT,
        around_the_clock=TWENTY_FOUR_SEVEN,
    )
    found = one(results, "action_plan")
    assert found == {
        "priority": "P1",
        "metric": "action_plan",
        "current_seconds": 2 * HOUR,
        "recommended_seconds": 2 * HOUR + 30 * MIN,
        "basis": "p80",
        "reason": "80 % of 41 P1 handoffs were given an action plan within 2 h 10 min; "
        "+10 % buffer, rounded → 2 h 30 min.",
        "volume": 41,
        "p80": 2 * HOUR + 10 * MIN,
    }


def test_the_buffer_is_a_parameter_and_business_hours_read_as_such():
    found = one(
        recommend(
            rows=rows(p80=50 * MIN),
            history=[],
            current_targets=CURRENT,
            around_the_clock=BUSINESS,
            buffer_percent=25,
        )
    )
    # 50 min × 1.25 = 62 min 30 s → over an hour: quarter hours → 1 h 15 min.
    assert found["recommended_seconds"] == HOUR + 15 * MIN
    assert found["reason"] == (
        "80 % of 40 P1 handoffs were acknowledged within 50 min; +25 % buffer, rounded → "
        "1 business h 15 min."
    )


def test_three_months_at_95_percent_or_more_tighten_by_10_to_15_percent():
    found = one(
        recommend(
            rows=rows(p80=5 * MIN),
            history=history(96.0, 99.5, 100.0),
            current_targets={"P1": {"acknowledge": 2 * HOUR}},
            around_the_clock=TWENTY_FOUR_SEVEN,
        )
    )
    # Not the p80 (5 min + 10 %): a step, 2 h → 1 h 45 min (12.5 %).
    assert (found["basis"], found["recommended_seconds"]) == ("tighten", HOUR + 45 * MIN)
    assert "(96 %, 99.5 %, 100 %)" in found["reason"]


@pytest.mark.parametrize(
    "streak",
    [
        (94.9, 99.0, 99.0),  # one month below 95 %
        (None, 99.0, 99.0),  # a month without data
        (99.0, 99.0),  # only two months known
    ],
)
def test_no_tightening_without_three_months_at_95_percent(streak):
    found = one(
        recommend(
            rows=rows(p80=HOUR),
            history=history(*streak),
            current_targets={"P1": {"acknowledge": 2 * HOUR}},
            around_the_clock=TWENTY_FOUR_SEVEN,
        )
    )
    assert (found["basis"], found["recommended_seconds"]) == ("p80", HOUR + 15 * MIN)


@given(st.integers(min_value=10 * MIN, max_value=30 * 24 * HOUR))
def test_a_tightening_always_lands_10_to_15_percent_under(current):
    tighter = tighten(current)
    assert 0.85 * current <= tighter <= 0.90 * current


@pytest.mark.parametrize(
    ("current", "tighter"),
    [
        (30 * MIN, 26 * MIN),  # no 5-minute step in 25.5–27 min: whole minutes
        (2 * HOUR, HOUR + 45 * MIN),
        (8 * HOUR, 7 * HOUR),
        (24 * HOUR, 21 * HOUR),
        (72 * HOUR, 64 * HOUR),  # 4-hour blocks beyond two days: 11.1 %
    ],
)
def test_a_tightening_keeps_units_people_write(current, tighter):
    assert tighten(current) == tighter


def test_never_below_a_quarter_hour_on_business_hours():
    found = one(
        recommend(
            rows=rows(p80=2 * MIN),
            history=[],
            current_targets=CURRENT,
            around_the_clock=BUSINESS,
        )
    )
    assert (found["basis"], found["recommended_seconds"]) == ("p80", 15 * MIN)
    assert found["reason"].startswith(
        "80 % of 40 P1 handoffs were acknowledged within 2 min; +10 % buffer, rounded → 5 min; "
        "raised to 15 min: the first quarter hour after opening"
    )


def test_never_below_five_minutes_around_the_clock():
    found = one(
        recommend(
            rows=rows(p80=30),
            history=[],
            current_targets=CURRENT,
            around_the_clock=TWENTY_FOUR_SEVEN,
        )
    )
    assert found["recommended_seconds"] == 5 * MIN


def test_a_tightening_stops_at_the_floor():
    found = one(
        recommend(
            rows=rows(p80=5 * MIN),
            history=history(100.0, 100.0, 100.0),
            current_targets={"P1": {"acknowledge": 16 * MIN}},
            around_the_clock=BUSINESS,
        )
    )
    # 16 min less 12.5 % would be 14 min: below the business-hours floor, 15 min it is.
    assert (found["basis"], found["recommended_seconds"]) == ("tighten", 15 * MIN)
    assert found["reason"].endswith("→ 15 min, the soonest the calendar allows.")
    at_floor = one(
        recommend(
            rows=rows(p80=5 * MIN),
            history=history(100.0, 100.0, 100.0),
            current_targets={"P1": {"acknowledge": 15 * MIN}},
            around_the_clock=BUSINESS,
        )
    )
    assert (at_floor["basis"], at_floor["recommended_seconds"]) == ("keep", 15 * MIN)
    assert "already the soonest the calendar allows" in at_floor["reason"]


def test_no_finished_clocks_keep_the_current_target():
    results = recommend(
        rows=rows(volume=0, p80=None),
        history=history(100.0, 100.0),
        current_targets=CURRENT,
        around_the_clock=TWENTY_FOUR_SEVEN,
    )
    assert [(r["metric"], r["basis"], r["recommended_seconds"]) for r in results] == [
        ("acknowledge", "no_data", 30 * MIN),
        ("action_plan", "no_data", 2 * HOUR),
        ("resolve", "no_data", None),
    ]
    assert results[0]["reason"] == "No P1 handoff was acknowledged in the period; keep 30 min."


def test_best_effort_stays_best_effort_with_what_a_target_would_be():
    found = one(
        recommend(
            rows=rows(volume=12, p80=5 * HOUR, metric="resolve"),
            history=[],
            current_targets=CURRENT,
            around_the_clock=TWENTY_FOUR_SEVEN,
        ),
        "resolve",
    )
    assert (found["basis"], found["recommended_seconds"]) == ("keep", None)
    assert found["reason"] == (
        "Best effort today. 80 % of 12 P1 handoffs were resolved within 5 h; a target of "
        "5 h 30 min would be met about 80 % of the time."
    )


def test_a_formatter_can_be_passed_in():
    found = one(
        recommend(
            rows=rows(p80=HOUR),
            history=[],
            current_targets=CURRENT,
            around_the_clock=BUSINESS,
            humanize=lambda seconds, business: f"{seconds}s",
        )
    )
    assert found["reason"].endswith("within 3600s; +10 % buffer, rounded → 4500s.")


def test_the_module_imports_no_django():
    code = "import sys, apps.reviews.recommend; print(any(m.startswith('django') for m in sys.modules))"  # noqa: E501
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False"
