"""Recommended targets for a quarterly review: pure arithmetic on the compliance pack.

No database (STYLE 5): it takes the pack's rows and history as plain dicts and is tested
without one. Durations are read as a person writes them through `humanize(seconds,
business=…)`, by default the portal's one formatter, `apps.agreements.durations`.

The rules, per priority × metric:

- no finished clocks in the period → keep the current target (basis "no_data");
- best effort today (no target) → keep it; the reason says what a target would be;
- met ≥ 95 % in each of the last three months → tighten the current target by 10–15 %
  (basis "tighten"): a team that always makes it can promise a little more (months, not
  review periods: three quarters would make a team wait most of a year);
- otherwise the period's 80th percentile plus a buffer, rounded up to a unit people
  write targets in (basis "p80"): ≤ 1 h in 5 min steps, ≤ 8 h in 15 min, ≤ 2 days in
  whole hours, beyond in 4 h blocks;
- never below what the calendar makes possible: 15 min on a business calendar (work that
  arrives while the team is closed can be picked up at the earliest in the first quarter
  hour after opening), 5 min around the clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from apps.agreements.durations import format_duration

MINUTE = 60
HOUR = 3600
METRICS = ("acknowledge", "action_plan", "resolve")
# (largest target the step applies to, step); the last applies beyond.
STEPS = ((HOUR, 5 * MINUTE), (8 * HOUR, 15 * MINUTE), (48 * HOUR, HOUR), (math.inf, 4 * HOUR))
FLOOR_BUSINESS = 15 * MINUTE
FLOOR_24X7 = 5 * MINUTE
TIGHTEN_WHEN_MET_PCT = 95.0
TIGHTEN_MONTHS = 3
# A tightening lands between 10 % and 15 % under the current target, aiming at 12.5 %.
TIGHTEN_LEAST, TIGHTEN_MOST, TIGHTEN_AIM = 0.10, 0.15, 0.125

DONE = {
    "acknowledge": "acknowledged",
    "action_plan": "given an action plan",
    "resolve": "resolved",
}


def step_for(seconds: float) -> int:
    """The rounding unit of a target of this size."""
    return next(step for limit, step in STEPS if seconds <= limit)


def round_target(seconds: int) -> int:
    """Round up to the unit of its size: 7,801 s (2 h 10 min 1 s) → 8,100 s (2 h 15 min)."""
    step = step_for(seconds)
    return -(-int(seconds) // step) * step


def tighten(current: int) -> int:
    """About 12.5 % under `current`, on the coarsest unit that keeps it 10–15 % under.

    2 h → 1 h 45 min; 8 h → 7 h; 24 h → 21 h; 30 min → 26 min (no 5-minute step lies in
    25 min 30 s … 27 min, so whole minutes); below that, seconds.
    """
    low = math.ceil(current * (1 - TIGHTEN_MOST))
    high = math.floor(current * (1 - TIGHTEN_LEAST))
    aim = current * (1 - TIGHTEN_AIM)
    for step in sorted({s for _, s in STEPS if s <= step_for(aim)} | {MINUTE}, reverse=True):
        first, last = math.ceil(low / step), math.floor(high / step)
        if first <= last:
            return min(max(round(aim / step), first), last) * step
    return round(aim)


def _met_pcts(history: Sequence[Mapping], priority: str, metric: str) -> list[float | None]:
    found = []
    for period in history[-TIGHTEN_MONTHS:]:
        row = next(
            (
                r
                for r in period.get("rows", ())
                if (r["priority"], r["metric"]) == (priority, metric)
            ),
            None,
        )
        found.append(row.get("met_pct") if row else None)
    return found


def _pct(value: float) -> str:
    return f"{value:g} %"


def recommend(
    *,
    rows: Sequence[Mapping],
    history: Sequence[Mapping],
    current_targets: Mapping[str, Mapping[str, int | None]],
    around_the_clock: Mapping[str, bool],
    buffer_percent: int = 10,
    floor_seconds: int = FLOOR_BUSINESS,
    floor_seconds_24x7: int = FLOOR_24X7,
    humanize: Callable[..., str] = format_duration,
) -> list[dict]:
    """One recommendation per priority of `current_targets` × metric.

    `rows`: the period's pack rows (priority, metric, volume, p80, …); `history`: the last
    months oldest first, each {"rows": [{priority, metric, met_pct}]}, the latest last;
    `around_the_clock`: priority → whether its clocks run 24×7. Each result: priority,
    metric, current_seconds, recommended_seconds, basis ("p80" | "tighten" | "keep" |
    "no_data"), reason (a sentence for the page), volume and p80 of the period.
    """
    by_pair = {(r["priority"], r["metric"]): r for r in rows}
    results = []
    for priority in sorted(current_targets):
        business = not around_the_clock.get(priority, False)
        floor = floor_seconds if business else floor_seconds_24x7

        def say(seconds, business=business):
            return humanize(seconds, business=business)

        for metric in METRICS:
            current = current_targets[priority].get(metric)
            row = by_pair.get((priority, metric)) or {}
            volume = row.get("volume") or 0
            p80 = row.get("p80")
            done = DONE.get(metric, metric)
            result = {
                "priority": priority,
                "metric": metric,
                "current_seconds": current,
                "volume": volume,
                "p80": p80,
            }
            if not volume or p80 is None:
                results.append(
                    result
                    | {
                        "recommended_seconds": current,
                        "basis": "no_data",
                        "reason": f"No {priority} handoff was {done} in the period; "
                        f"keep {say(current)}.",
                    }
                )
                continue

            if volume == 1:
                observed = f"The one {priority} handoff was {done} in {say(p80)}"
            else:
                observed = f"80 % of {volume} {priority} handoffs were {done} within {say(p80)}"
            buffered = -(-p80 * (100 + buffer_percent) // 100)
            suggested = max(round_target(buffered), floor)

            if current is None:
                results.append(
                    result
                    | {
                        "recommended_seconds": None,
                        "basis": "keep",
                        "reason": f"Best effort today. {observed}; a target of "
                        f"{say(suggested)} would be met about 80 % of the time.",
                    }
                )
                continue

            met = _met_pcts(history, priority, metric)
            if len(met) == TIGHTEN_MONTHS and all(
                m is not None and m >= TIGHTEN_WHEN_MET_PCT for m in met
            ):
                tighter = max(tighten(current), floor)
                streak = ", ".join(_pct(m) for m in met)
                if tighter >= current:
                    results.append(
                        result
                        | {
                            "recommended_seconds": current,
                            "basis": "keep",
                            "reason": f"Met in at least 95 % of cases in each of the last "
                            f"three months ({streak}), but {say(current)} is already the "
                            f"soonest the calendar allows; keep it.",
                        }
                    )
                    continue
                cut = _pct(round(100 * (current - tighter) / current, 1))
                floored = ", the soonest the calendar allows" if tighter > tighten(current) else ""
                results.append(
                    result
                    | {
                        "recommended_seconds": tighter,
                        "basis": "tighten",
                        "reason": f"Met in at least 95 % of cases in each of the last three "
                        f"months ({streak}): tighten {say(current)} by {cut} → "
                        f"{say(tighter)}{floored}.",
                    }
                )
                continue

            buffer = f"+{buffer_percent} % buffer, rounded" if buffer_percent else "rounded"
            reason = f"{observed}; {buffer} → {say(round_target(buffered))}."
            if suggested > round_target(buffered):
                soonest = (
                    "the first quarter hour after opening is the soonest work that arrived "
                    "while the team was closed can be picked up"
                    if business
                    else "the shortest target worth promising around the clock"
                )
                reason = reason[:-1] + f"; raised to {say(suggested)}: {soonest}."
            results.append(
                result | {"recommended_seconds": suggested, "basis": "p80", "reason": reason}
            )
    return results
