"""A set of targets as a value: priority × metric → seconds (None: best effort), and per
priority whether its clocks run 24×7.

Pure (STYLE 5): no database and no model import. A grid is built from an agreement
version (its `PriorityTarget` rows, read through `agreement.targets.all()`) or from the
JSON shape reviews store and the API speaks, `{"P1": {"acknowledge": 1800,
"action_plan": 7200, "resolve": None}, …}`. What every part of the portal does with a set
of targets lives here once: the rule "acknowledge ≤ action plan ≤ resolve", the merge of
changed targets over others, the rows a page shows and the unit their durations read in
(plain hours on a 24×7 tier, business hours otherwise).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from apps.core import limits

from .durations import format_duration

METRICS = ("acknowledge", "action_plan", "resolve")

Targets = dict[str, dict[str, int | None]]


def tier_problems(values: Mapping[str, object]) -> dict[str | None, list[str]]:
    """What is wrong with one priority's targets (`values`: metric → whole seconds or None),
    keyed by metric, None for the tier as a whole: a target beyond ten years; no target at
    all; a later milestone shorter than an earlier one. Values that are not positive whole
    numbers are the caller's to refuse, in its own words, and are compared with nothing."""
    problems: dict[str | None, list[str]] = {}
    if all(values.get(metric) is None for metric in METRICS):
        problems[None] = [
            "Give this priority at least one target (acknowledge, action plan or resolve)."
        ]
    comparable = []
    for metric in METRICS:
        value = values.get(metric)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            continue
        if value > limits.TARGET_SECONDS_MAX:
            problems.setdefault(metric, []).append(
                f"A target is at most {limits.TARGET_SECONDS_MAX // 3600:,} hours (ten years)."
            )
            continue
        comparable.append((metric, value))
    # Where set, acknowledge ≤ action plan ≤ resolve: a later milestone cannot be due
    # before an earlier one.
    for (earlier, a), (later, b) in itertools.pairwise(comparable):
        if b < a:
            problems.setdefault(later, []).append(
                f"Must not be shorter than the {earlier.replace('_', ' ')} target."
            )
    return problems


def merge_targets(base: Mapping, changes: Mapping | None) -> dict:
    """`changes` over `base`, cell by cell: a priority given as an object changes only the
    metrics it names; anything else replaces the priority (and validation then says what
    is wrong with it). Neither argument is changed."""
    result = {p: dict(row) if isinstance(row, Mapping) else row for p, row in base.items()}
    for priority, row in (changes or {}).items():
        if isinstance(row, Mapping) and isinstance(result.get(priority), dict):
            result[priority].update(row)
        else:
            result[priority] = row
    return result


@dataclass(frozen=True)
class TargetGrid:
    """Targets per priority and metric, with the per-priority 24×7 flag."""

    targets: Mapping[str, Mapping[str, int | None]]
    around_the_clock: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_agreement(cls, agreement) -> TargetGrid:
        """The targets of an agreement version. A tier runs 24×7 when it says so or when
        the version's calendar is open 24×7 (its clocks then count plain hours too)."""
        always = agreement.calendar.is_24x7
        tiers = sorted(agreement.targets.all(), key=lambda t: t.priority)
        return cls(
            targets={t.priority: {m: t.seconds_for(m) for m in METRICS} for t in tiers},
            around_the_clock={t.priority: bool(t.around_the_clock or always) for t in tiers},
        )

    @classmethod
    def from_dict(cls, targets: Mapping | None, *, around_the_clock=None) -> TargetGrid:
        """A grid of stored targets (`{"P1": {"acknowledge": 1800, …}}`); a metric left out
        is best effort."""
        return cls(
            targets={
                p: {m: (row or {}).get(m) for m in METRICS}
                for p, row in sorted((targets or {}).items())
            },
            around_the_clock=dict(around_the_clock or {}),
        )

    # --- reading ---------------------------------------------------------------------

    @property
    def priorities(self) -> list[str]:
        return sorted(self.targets)

    def __contains__(self, priority: str) -> bool:
        return priority in self.targets

    def seconds(self, priority: str, metric: str) -> int | None:
        return (self.targets.get(priority) or {}).get(metric)

    def is_24x7(self, priority: str) -> bool:
        """Whether the tier's clocks run around the clock (an unknown tier: no)."""
        return bool(self.around_the_clock.get(priority, False))

    def business(self, priority: str) -> bool:
        """Whether the tier's durations are business time (and read "business h")."""
        return not self.is_24x7(priority)

    def say(self, priority: str, seconds: int | None) -> str:
        """A target of the tier in words: "2 h" on a 24×7 tier, "2 business h" otherwise,
        "best effort" for none."""
        return format_duration(seconds or None, business=self.business(priority))

    def text(self, priority: str, metric: str) -> str:
        """The tier's target for `metric` in words."""
        return self.say(priority, self.seconds(priority, metric))

    def as_dict(self) -> Targets:
        """The JSON shape, priorities in order, every metric present."""
        return {p: {m: self.seconds(p, m) for m in METRICS} for p in self.priorities}

    def rows(self) -> list[dict]:
        """For display: per priority its 24×7 flag and a cell per metric (seconds, text)."""
        return [
            {
                "priority": priority,
                "around_the_clock": self.is_24x7(priority),
                "cells": [
                    {
                        "metric": metric,
                        "seconds": self.seconds(priority, metric),
                        "text": self.text(priority, metric),
                    }
                    for metric in METRICS
                ],
            }
            for priority in self.priorities
        ]

    # --- comparing and merging -------------------------------------------------------

    def changes_to(self, other: Mapping) -> list[tuple[str, str, int | None, int | None]]:
        """(priority, metric, ours, theirs) for each cell of our priorities that `other`
        (a targets dict) sets differently; a cell `other` leaves out is unchanged."""
        found = []
        for priority in self.priorities:
            for metric in METRICS:
                old = self.seconds(priority, metric)
                new = (other.get(priority) or {}).get(metric, old)
                if new != old:
                    found.append((priority, metric, old, new))
        return found

    def rebase(self, *, base: Mapping, proposed: Mapping) -> tuple[Targets, list[dict]]:
        """A review's own changes (`proposed` against `base`, the targets it started from)
        applied on top of these targets, the ones in force now; and the cells where these
        changed the same target to something else (conflicts: `{"priority", "metric",
        "base", "active", "proposed"}`, `"removed": True` when our version no longer has
        the priority).

        A cell the review left alone keeps our value, so an amendment approved while the
        review was open is kept; a cell both changed to the same value is no conflict."""
        result = {priority: dict(row or {}) for priority, row in self.targets.items()}
        conflicts: list[dict] = []
        for priority, row in proposed.items():
            for metric in METRICS:
                if not isinstance(row, Mapping) or metric not in row:
                    continue
                new, old = row[metric], (base.get(priority) or {}).get(metric)
                if new == old:
                    continue  # not changed by the review
                if priority not in result:
                    conflicts.append(
                        {"priority": priority, "metric": metric, "base": old, "active": None,
                         "proposed": new, "removed": True}
                    )  # fmt: skip
                    continue
                now_value = result[priority].get(metric)
                if now_value != old and now_value != new:
                    conflicts.append(
                        {"priority": priority, "metric": metric, "base": old,
                         "active": now_value, "proposed": new}
                    )  # fmt: skip
                    continue
                result[priority][metric] = new
        return result, conflicts

    # --- checking --------------------------------------------------------------------

    def problems(self) -> dict[tuple[str, str | None], list[str]]:
        """`tier_problems` of every priority, keyed (priority, metric or None)."""
        return {
            (priority, metric): messages
            for priority in self.priorities
            for metric, messages in tier_problems(self.targets[priority]).items()
        }
