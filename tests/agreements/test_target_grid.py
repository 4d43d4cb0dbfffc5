"""TargetGrid: a set of targets as a value — pure, no database."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.agreements.targets import TargetGrid, merge_targets, tier_problems
from apps.core import limits

H = 3600


class _Tier(SimpleNamespace):
    def seconds_for(self, metric):
        return getattr(self, f"{metric}_seconds")


def _agreement(*tiers, calendar_24x7=False):
    rows = list(tiers)
    return SimpleNamespace(
        calendar=SimpleNamespace(is_24x7=calendar_24x7),
        targets=SimpleNamespace(all=lambda: rows),
    )


def _tier(priority, ack, plan, resolve, *, around_the_clock=False):
    return _Tier(
        priority=priority,
        acknowledge_seconds=ack,
        action_plan_seconds=plan,
        resolve_seconds=resolve,
        around_the_clock=around_the_clock,
    )


GRID = TargetGrid.from_dict(
    {
        "P1": {"acknowledge": 1800, "action_plan": 2 * H, "resolve": 8 * H},
        "P3": {"resolve": 72 * H},
    },
    around_the_clock={"P1": True},
)


def test_built_from_a_version_in_priority_order_with_every_metric():
    agreement = _agreement(
        _tier("P2", 2 * H, None, 24 * H),
        _tier("P1", 1800, 2 * H, 8 * H, around_the_clock=True),
    )
    grid = TargetGrid.from_agreement(agreement)
    assert grid.as_dict() == {
        "P1": {"acknowledge": 1800, "action_plan": 2 * H, "resolve": 8 * H},
        "P2": {"acknowledge": 2 * H, "action_plan": None, "resolve": 24 * H},
    }
    assert grid.priorities == ["P1", "P2"]
    assert grid.is_24x7("P1") and not grid.is_24x7("P2")


def test_every_tier_runs_around_the_clock_on_a_24x7_calendar():
    grid = TargetGrid.from_agreement(_agreement(_tier("P3", H, None, None), calendar_24x7=True))
    assert grid.is_24x7("P3")
    assert grid.text("P3", "acknowledge") == "1 h"


def test_durations_read_plain_hours_on_a_24x7_tier_business_hours_otherwise():
    assert GRID.text("P1", "resolve") == "8 h"
    assert GRID.text("P3", "resolve") == "72 business h"
    assert GRID.text("P3", "acknowledge") == "best effort"
    assert GRID.say("P1", 5400) == "1 h 30 min"
    assert GRID.say("P9", 5400) == "1 business h 30 min"  # an unknown tier: business time


def test_rows_give_each_priority_its_flag_and_cells():
    rows = GRID.rows()
    assert [r["priority"] for r in rows] == ["P1", "P3"]
    assert rows[0]["around_the_clock"] is True
    assert rows[0]["cells"][1] == {"metric": "action_plan", "seconds": 2 * H, "text": "2 h"}
    assert rows[1]["cells"][0]["text"] == "best effort"


def test_merge_changes_only_the_cells_given_and_leaves_its_arguments_alone():
    base = GRID.as_dict()
    result = merge_targets(base, {"P3": {"acknowledge": 4 * H}, "P4": {"resolve": H}})
    assert result["P3"] == {"acknowledge": 4 * H, "action_plan": None, "resolve": 72 * H}
    assert result["P4"] == {"resolve": H}
    assert result["P1"] == base["P1"]
    assert base["P3"]["acknowledge"] is None


def test_merge_replaces_what_is_not_an_object_so_validation_can_refuse_it():
    assert merge_targets({"P1": {"acknowledge": 60}}, {"P1": "soon"}) == {"P1": "soon"}
    assert merge_targets({"P1": {"acknowledge": 60}}, None) == {"P1": {"acknowledge": 60}}


def test_changes_to_lists_the_cells_set_differently():
    other = {"P1": {"resolve": 6 * H}, "P3": {"resolve": 72 * H}}
    assert GRID.changes_to(other) == [("P1", "resolve", 8 * H, 6 * H)]


def test_rebase_applies_the_reviews_own_changes_over_the_version_in_force():
    base = {"P1": {"acknowledge": 1800, "resolve": 8 * H}}
    proposed = {"P1": {"acknowledge": 900, "resolve": 8 * H}}
    active = TargetGrid.from_dict({"P1": {"acknowledge": 1800, "resolve": 6 * H}})
    result, conflicts = active.rebase(base=base, proposed=proposed)
    assert result["P1"] == {"acknowledge": 900, "action_plan": None, "resolve": 6 * H}
    assert conflicts == []


def test_rebase_reports_a_cell_both_changed_differently_and_a_removed_priority():
    base = {"P1": {"resolve": 8 * H}, "P4": {"resolve": 96 * H}}
    proposed = {"P1": {"resolve": 7 * H}, "P4": {"resolve": 48 * H}}
    active = TargetGrid.from_dict({"P1": {"resolve": 6 * H}})
    result, conflicts = active.rebase(base=base, proposed=proposed)
    assert result["P1"]["resolve"] == 6 * H
    assert conflicts == [
        {"priority": "P1", "metric": "resolve", "base": 8 * H, "active": 6 * H, "proposed": 7 * H},
        {"priority": "P4", "metric": "resolve", "base": 96 * H, "active": None,
         "proposed": 48 * H, "removed": True},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"acknowledge": 60, "action_plan": 120, "resolve": 180}, {}),
        ({"acknowledge": 60, "action_plan": None, "resolve": 60}, {}),
        (
            {"acknowledge": 120, "action_plan": 60, "resolve": None},
            {"action_plan": ["Must not be shorter than the acknowledge target."]},
        ),
        (
            {"acknowledge": None, "action_plan": 120, "resolve": 60},
            {"resolve": ["Must not be shorter than the action plan target."]},
        ),
        (
            {"acknowledge": 120, "action_plan": None, "resolve": 60},
            {"resolve": ["Must not be shorter than the acknowledge target."]},
        ),
    ],
)
def test_acknowledge_then_action_plan_then_resolve(values, expected):
    assert tier_problems(values) == expected


def test_a_tier_needs_one_target_and_none_beyond_ten_years():
    assert list(tier_problems({})) == [None]
    too_long = tier_problems({"resolve": limits.TARGET_SECONDS_MAX + 1, "acknowledge": 60})
    assert "ten years" in too_long["resolve"][0]
    assert None not in too_long


def test_values_that_are_not_positive_whole_numbers_are_left_to_the_caller():
    assert tier_problems({"acknowledge": 0, "action_plan": "x", "resolve": True}) == {}


def test_grid_problems_are_keyed_by_priority_and_metric():
    grid = TargetGrid.from_dict({"P1": {"acknowledge": 120, "resolve": 60}, "P2": {}})
    assert grid.problems() == {
        ("P1", "resolve"): ["Must not be shorter than the acknowledge target."],
        ("P2", None): [
            "Give this priority at least one target (acknowledge, action plan or resolve)."
        ],
    }
