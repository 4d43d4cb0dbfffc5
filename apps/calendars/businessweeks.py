"""Week tables for the business-time engine (apps/calendars/businesstime.py).

A table holds the open intervals of one local week (Monday 00:00 to the next Monday 00:00)
and of the week after it as flat, sorted arrays, so the engine answers both of its questions
with one bisect each, and an ``add`` that crosses a weekend still reads one table:

* where does an instant ``x`` fall in the week's business time?  ``i = bisect_right(ends,
  x)`` is the first interval still open after ``x``; the business time before ``x`` is
  ``max(floors[i], x + shifts[i])`` (``floors[i]``: business time before interval ``i``
  opens; ``shifts[i] = cum_ends[i] - ends[i]``); a sentinel after the last interval makes
  ``i`` always valid;
* when has the week's ``n``-th business µs elapsed?  ``j = bisect_left(cum_ends, n)`` is
  the interval in which it does, at ``n - shifts[j]``: never the start of the next interval
  (the engine's "end of business time" convention), because ``bisect_left`` stops at the
  first interval whose cumulative end reaches ``n``.

Positions are µs after the week's start (its Monday's local midnight).  A week with one UTC
offset throughout, no holiday and no closed window shares one template built once per
calendar from the weekly hours; any other week is built from the engine's exact per-day
windows.  Either way the arrays describe exactly the open set the per-day windows describe,
so the answers are the same.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from .businessinput import (
    MEMO_LIMIT,
    ONE_US,
    US_PER_DAY,
    Interval,
    Rule,
    WallIntervals,
    wall_intervals,
)

# Later than any instant relative to a week's start.
_BEYOND: Final = 1 << 62


class Tables(NamedTuple):
    ends: list[int]
    floors: list[int]
    shifts: list[int]
    cum_ends: list[int]
    total: int  # the first week's business time
    pair_total: int  # both weeks'


class Week(NamedTuple):
    """One local week: its window ``[lo, hi)`` in epoch µs (``lo`` also as a UTC datetime:
    the tables are relative to it), the tables of this week and the next, and the week's
    key (the next week's is ``key + 1``).  A tuple so the engine's hot path can unpack it
    in one step."""

    lo: int
    hi: int
    lo_dt: datetime
    ends: list[int]
    floors: list[int]
    shifts: list[int]
    cum_ends: list[int]
    total: int
    pair_total: int
    key: int


def tables(intervals: Iterable[Interval], total: int) -> Tables:
    """Tables of sorted, non-overlapping, non-empty intervals (touching ones may stay apart:
    a boundary they share is never returned as an answer of its own); ``total`` is the
    business time of the first week among them."""
    ends: list[int] = []
    floors: list[int] = []
    shifts: list[int] = []
    cum_ends: list[int] = []
    elapsed = 0
    for lo, hi in intervals:
        floors.append(elapsed)
        elapsed += hi - lo
        ends.append(hi)
        cum_ends.append(elapsed)
        shifts.append(elapsed - hi)
    # The sentinel: an instant after every interval is "before" this one, which adds no
    # business time, so lookups need no bounds check.
    ends.append(_BEYOND)
    floors.append(elapsed)
    shifts.append(-_BEYOND)
    cum_ends.append(elapsed)
    return Tables(ends, floors, shifts, cum_ends, total, elapsed)


def template(wall: Sequence[Sequence[Interval]], nominal_week: int) -> Tables:
    """Tables of two weeks with one UTC offset: each weekday's wall-clock intervals (µs
    after local midnight, Monday first) shifted by whole days from the first Monday's
    midnight."""
    shifted = [
        ((week * 7 + weekday) * US_PER_DAY + lo, (week * 7 + weekday) * US_PER_DAY + hi)
        for week in (0, 1)
        for weekday, intervals in enumerate(wall)
        for lo, hi in intervals
    ]
    return tables(shifted, nominal_week)


# (zone name, validated hours) -> what a calendar derives from them (see shape()).
Shape = tuple[tuple[WallIntervals, ...], tuple[int, ...], int, Tables, int]
_SHAPES: dict[tuple[str, tuple[tuple[Rule, ...], ...]], Shape] = {}


def shape(zone: ZoneInfo, weekly: tuple[tuple[Rule, ...], ...]) -> Shape:
    """What a calendar derives from its zone and validated hours: the wall-clock intervals
    per weekday, their open µs, the week's, the template tables and a first guess of the
    zone's UTC offset in µs.  Memoised by value, as the hours' validation is."""
    found = _SHAPES.get((zone.key, weekly))
    if found is None:
        wall = tuple(wall_intervals(rules) for rules in weekly)
        wall_open = tuple(sum(hi - lo for lo, hi in day) for day in wall)
        nominal_week = sum(wall_open)
        # Only a starting point for finding an instant's local date.
        offset = datetime(2000, 1, 1, tzinfo=UTC).astimezone(zone).utcoffset()
        guess = (offset or timedelta()) // ONE_US
        found = (wall, wall_open, nominal_week, template(wall, nominal_week), guess)
        if len(_SHAPES) >= MEMO_LIMIT:
            _SHAPES.clear()
        _SHAPES[zone.key, weekly] = found
    return found


def elapsed(week: Week, moment_us: int) -> int:
    """Business µs from the week's start to an instant inside its tables' fortnight."""
    moment_us -= week.lo
    index = bisect_right(week.ends, moment_us)
    passed = moment_us + week.shifts[index]
    floor = week.floors[index]
    return passed if passed > floor else floor
