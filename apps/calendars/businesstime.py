"""Business-time arithmetic over weekly opening hours in an IANA time zone.

Pure Python (no Django): the calendars app builds a :class:`BusinessHours` from its models
and asks it two questions, ``add`` (when will N business seconds have elapsed?) and
``between`` (how many business seconds lie in ``[start, end)``?).

Conventions (the contract other modules rely on):

* Opening hours are local wall-clock intervals per weekday (``date.weekday()`` keys,
  0 = Monday).  An end of ``time(0)`` means midnight at the *end* of the day, so 24x7 is
  ``{d: [(time(0), time(0))] for d in range(7)}``.
* Every wall time resolves as ``datetime.combine(day, t, tzinfo=ZoneInfo(tz))`` does, i.e.
  PEP 495 with ``fold=0`` (a ``fold=1`` on a given ``time`` is ignored).  An interval whose
  resolved end is not after its resolved start (only possible around DST gaps) is empty.
* Business time is *real elapsed* time inside open intervals: a 24x7 spring-forward day in
  Europe/Berlin holds 23 hours, the fall-back day 25 hours.
* The open set is the union of all resolved intervals, so touching/overlapping intervals
  (within a day, across midnight, or produced by DST resolution) are never double counted.
* A holiday closes its whole local date: ``[combine(d, 00:00), combine(d + 1, 00:00))``.
* ``closed`` windows (exceptions, pauses) are aware intervals removed from the open set.
* ``add(start, 0)`` returns ``start`` (in UTC): zero seconds have elapsed at ``start``
  itself, even outside business hours.  For ``seconds > 0`` the answer is the instant the
  last second elapses, i.e. always the *end* of some business time and never the start of
  the next open interval (Mon-Fri 09-17: Fri 16:00 + 1 h = Fri 17:00, not Mon 09:00).
* ``between`` counts microseconds exactly and floors the total to whole seconds.
* Aware datetimes in, aware UTC datetimes out; naive input raises ``ValueError``.

Implementation: instants are integer microseconds since the Unix epoch, so arithmetic is
exact.  The timeline is partitioned into local-day windows ``[midnight(d), midnight(d+1))``
and each window's open intervals are computed once and cached.  ``add``/``between`` read
week tables (businessweeks.py: a local week and the next one as flat cumulative arrays,
one bisect per question); weeks with one UTC offset, no holiday and no closed window share
one template built from the weekly hours, the others are built from the day windows.
Answers many weeks away come from a day walk that jumps "plain" weeks arithmetically.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, datetime
from typing import Final

from . import businessweeks
from .businessinput import (
    ANCHORS,
    EPOCH,
    MIDNIGHT,
    ONE_US,
    US_PER_DAY,
    US_PER_SECOND,
    Interval,
    WeeklySchedule,
    from_us,
    holiday_ordinals,
    instant_us,
    load_zone,
    normalise_closed,
    normalise_weekly,
    subtract_closed,
    to_us,
)
from .businessweeks import Week, elapsed

__all__ = ["BusinessHours"]

_US_PER_WEEK: Final = 7 * US_PER_DAY
_EPOCH_ORDINAL: Final = EPOCH.toordinal()
# Week keys count weeks from Monday 1969-12-29, the Monday before the epoch (a Thursday).
_MONDAY_ZERO: Final = _EPOCH_ORDINAL - 3

# add() gives up when no open time at all has been seen for this many days (~10 years), or
# a calendar whose open time is all covered by closed windows or holidays would loop forever.
_HORIZON_DAYS: Final = 3653

# Caches are per instance and keyed by date ordinal; cap them so a long-lived calendar
# queried over centuries cannot grow without bound (recomputing is always correct).
_CACHE_LIMIT: Final = 200_000

# Local midnights depend only on the zone, and calendars are typically rebuilt per request
# from the database, so this table is shared by all instances: zone key -> date ordinal ->
# (midnight as epoch µs, UTC offset in µs).  Racing writers store identical values.
_ZONE_MIDNIGHTS: dict[str, dict[int, tuple[int, int]]] = {}

# add() reads the tables of the start's fortnight and up to this many after it; answers
# further away come from the day walk (_walk), which skips plain weeks.
_FORTNIGHTS_AHEAD: Final = 4

# What building a week's tables raises within weeks of date.min or date.max.
_OUT_OF_RANGE: Final = (ValueError, OverflowError)

# Cached local-day window: (window start, window end, open intervals, open microseconds).
_Day = tuple[int, int, tuple[Interval, ...], int]


class BusinessHours:
    """Weekly opening hours in one time zone, minus holidays and closed windows.

    See the module docstring for the exact semantics.  Instances are immutable apart from
    internal caches, so they can be shared and reused; repeated queries get faster.
    """

    def __init__(
        self,
        tz: str,
        weekly: WeeklySchedule,
        holidays: Iterable[date] = (),
        closed: Iterable[tuple[datetime, datetime]] = (),
    ) -> None:
        self._tz_name = tz
        self._zone = load_zone(tz)
        self._weekly = normalise_weekly(weekly)
        shape = businessweeks.shape(self._zone, self._weekly)
        self._wall, self._wall_open, self._nominal_week, self._template, self._offset_guess = shape
        # (instant + shift) // week: the key of its local week, if the offset guess is right.
        self._week_shift = self._offset_guess + 3 * US_PER_DAY
        self._holidays, self._holidays_sorted = holiday_ordinals(holidays)

        self._closed = normalise_closed(closed)
        self._closed_ends = [hi for _, hi in self._closed]

        self._midnights = _ZONE_MIDNIGHTS.setdefault(self._zone.key, {})
        self._raw: dict[int, tuple[Interval, ...]] = {}
        self._days: dict[int, _Day] = {}
        self._weeks: dict[int, int | None] = {}
        self._weeks_cache: dict[int, Week] = {}

    def __repr__(self) -> str:
        return (
            f"BusinessHours(tz={self._tz_name!r}, open_seconds_per_week="
            f"{self._nominal_week // US_PER_SECOND}, holidays={len(self._holidays)}, "
            f"closed={len(self._closed)})"
        )

    # ----------------------------------------------------------------- public API

    def add(self, start: datetime, seconds: int) -> datetime:
        """Return the earliest instant (UTC) at which ``seconds`` business seconds elapsed."""
        # Inlines instant_us() and _week_at()'s common case: at ~1.5 µs a call, every Python
        # operation counts (hence subscripts in try, not .get(), and a literal µs/second).
        try:
            start_us = (start - ANCHORS[start.tzinfo]) // ONE_US
        except (KeyError, TypeError, AttributeError):  # a new tzinfo, or not an instant
            start_us = instant_us(start, "start")
        if type(seconds) is not int or seconds <= 0:
            return self._add_unusual(start, start_us, seconds)
        try:
            lo, hi, lo_dt, ends, floors, shifts, cum_ends, _, pair_total, key = self._weeks_cache[
                (start_us + self._week_shift) // _US_PER_WEEK
            ]
            if not lo <= start_us < hi:
                raise KeyError
        except KeyError:
            try:
                week = self._week_at(start_us)
            except _OUT_OF_RANGE:
                return self._walk(start_us, seconds * US_PER_SECOND)
            lo, hi, lo_dt, ends, floors, shifts, cum_ends, _, pair_total, key = week
        # Tables of this week and the next: a bisect places the start (a sentinel ends the
        # tables, so a next interval always exists) and another, if needed, the answer.
        start_us -= lo
        index = bisect_right(ends, start_us)
        start_us += shifts[index]
        if start_us < floors[index]:
            start_us = floors[index]
        target = start_us + seconds * 1_000_000
        if target <= cum_ends[index]:  # in that same interval: no second bisect
            return lo_dt + ONE_US * (target - shifts[index])
        if target <= pair_total:
            return lo_dt + ONE_US * (target - shifts[bisect_left(cum_ends, target, index)])
        return self._add_after(key + 2, target - pair_total, start, seconds)

    def _add_unusual(self, start: datetime, start_us: int, seconds: int) -> datetime:
        if type(seconds) is not int:
            seconds = operator.index(seconds)
            if seconds > 0:
                return self.add(start, seconds)
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        return from_us(start_us)

    def _add_after(self, key: int, remaining: int, start: datetime, seconds: int) -> datetime:
        """``add`` once the first fortnight is used up: whole fortnights from week ``key``;
        far answers (and calendars closed for years) are left to the day walk, which jumps
        plain weeks without building their tables (both are exact; this picks the quicker)."""
        weeks = self._weeks_cache
        try:
            if remaining <= 2 * _FORTNIGHTS_AHEAD * self._nominal_week:
                for first in range(key, key + 2 * _FORTNIGHTS_AHEAD, 2):
                    week = weeks.get(first) or self._week(first)
                    if remaining <= week.pair_total:
                        found = bisect_left(week.cum_ends, remaining)
                        return week.lo_dt + ONE_US * (remaining - week.shifts[found])
                    remaining -= week.pair_total
        except _OUT_OF_RANGE:
            pass
        if not self._nominal_week:
            raise ValueError("calendar has no opening hours; business time never elapses")
        return self._walk(instant_us(start, "start"), seconds * US_PER_SECOND)

    def between(self, start: datetime, end: datetime) -> int:
        """Return the whole business seconds in ``[start, end)`` (0 if ``end <= start``)."""
        start_us = instant_us(start, "start")
        end_us = instant_us(end, "end")
        if end_us <= start_us:
            return 0
        try:
            week = self._week_at(start_us)
            total = -elapsed(week, start_us)
            weeks = self._weeks_cache
            # A week's tables span a fortnight: step over whole fortnights to the end's.
            while end_us >= self._midnight(_MONDAY_ZERO + 7 * week.key + 14)[0]:
                total += week.pair_total
                key = week.key + 2
                week = weeks.get(key) or self._week(key)
            total += elapsed(week, end_us)
        except _OUT_OF_RANGE:
            total = self._between_days(start_us, end_us)
        return total // US_PER_SECOND

    def _between_days(self, start_us: int, end_us: int) -> int:
        """``between`` in µs by walking day windows, for spans within weeks of year 1 or
        9999, where week tables (which need two weeks' midnights) cannot be built."""
        ordinal, day = self._locate(start_us)
        total = 0
        while day[0] < end_us:
            for lo, hi in day[2]:
                lo, hi = max(lo, start_us), min(hi, end_us)
                if hi > lo:
                    total += hi - lo
            ordinal += 1
            day = self._days.get(ordinal) or self._day(ordinal)
        return total

    # ------------------------------------------------------------------ internals

    def _week_at(self, moment_us: int) -> Week:
        """The local week (Monday 00:00 to Monday 00:00) containing the instant."""
        key = (moment_us + self._week_shift) // _US_PER_WEEK
        weeks = self._weeks_cache
        week = weeks.get(key) or self._week(key)
        while moment_us < week.lo:
            key -= 1
            week = weeks.get(key) or self._week(key)
        while moment_us >= week.hi:
            key += 1
            week = weeks.get(key) or self._week(key)
        return week

    def _week(self, key: int) -> Week:
        """Build (and cache) the tables of week ``key`` (weeks counted from 1969-12-29)
        and of the week after it."""
        if len(self._weeks_cache) > _CACHE_LIMIT:
            self._clear_caches()
        monday = _MONDAY_ZERO + 7 * key
        lo = self._midnight(monday)[0]
        hi = self._midnight(monday + 7)[0]
        if self._plain_fortnight(monday, lo):  # one offset from Monday's midnight on
            found = self._template
        else:  # each week plain (the wall-clock hours) or from its exact day windows
            intervals: list[Interval] = []
            totals = []
            for first, start in ((monday, 0), (monday + 7, hi - lo)):
                known = self._weeks.get(first, -1)
                if known == -1:
                    known = self._week_total(first)
                if known is not None and known == self._nominal_week:
                    intervals += [
                        (
                            start + weekday * US_PER_DAY + open_lo,
                            start + weekday * US_PER_DAY + open_hi,
                        )
                        for weekday, day in enumerate(self._wall)
                        for open_lo, open_hi in day
                    ]
                    totals.append(known)
                else:
                    days = [self._days.get(o) or self._day(o) for o in range(first, first + 7)]
                    intervals += [(a - lo, b - lo) for day in days for a, b in day[2]]
                    totals.append(sum(day[3] for day in days))
            found = businessweeks.tables(intervals, totals[0])
        week = tuple.__new__(Week, (lo, hi, from_us(lo), *found, key))  # (no Python frame)
        self._weeks_cache[key] = week
        return week

    def _plain_fortnight(self, monday: int, lo: int) -> bool:
        """Whether the two weeks from ``monday`` hold exactly the weekly hours at one UTC
        offset: no holiday, no closed window, and one offset at every local midnight from
        the day before to the day after (as _week_total checks a week)."""
        holidays = self._holidays_sorted
        index = bisect_left(holidays, monday)
        if index < len(holidays) and holidays[index] < monday + 14:
            return False
        midnights = self._midnights
        offset = (midnights.get(monday - 1) or self._midnight(monday - 1))[1]
        for ordinal in range(monday, monday + 16):
            if (midnights.get(ordinal) or self._midnight(ordinal))[1] != offset:
                return False
        if self._closed:
            index = bisect_right(self._closed_ends, lo)
            if (
                index < len(self._closed)
                and self._closed[index][0] < self._midnight(monday + 14)[0]
            ):
                return False
        return True

    def _walk(self, start_us: int, remaining: int) -> datetime:
        """``add`` by walking days and jumping plain weeks: for answers many weeks away."""
        days = self._days
        ordinal, day = self._locate(start_us)
        for lo, hi in day[2]:
            if hi <= start_us:
                continue
            if lo < start_us:
                lo = start_us
            if hi - lo >= remaining:
                return from_us(lo + remaining)
            remaining -= hi - lo

        nominal_week = self._nominal_week
        last_open = ordinal
        ordinal += 1
        while True:
            # Week jumps only pay off when the target is beyond a standard week, or when a
            # long closed window might make whole weeks empty.
            if remaining > nominal_week or self._closed:
                week = self._weeks.get(ordinal, -1)
                if week == -1:
                    week = self._week_total(ordinal)
                if week is not None and week < remaining:
                    if week:
                        last_open = ordinal
                    elif ordinal - last_open > _HORIZON_DAYS:
                        break
                    remaining -= week
                    ordinal += 7
                    continue
            day = days.get(ordinal) or self._day(ordinal)
            if day[3] >= remaining:
                for lo, hi in day[2]:
                    if hi - lo >= remaining:
                        return from_us(lo + remaining)
                    remaining -= hi - lo
            if day[3]:
                remaining -= day[3]
                last_open = ordinal
            elif ordinal - last_open > _HORIZON_DAYS:
                break
            ordinal += 1
        raise ValueError(
            f"no business time found within {_HORIZON_DAYS} days after "
            f"{from_us(self._midnight(last_open)[0]).isoformat()}; the calendar is closed"
        )

    def _locate(self, moment_us: int) -> tuple[int, _Day]:
        """Return the local-day window containing the instant ``moment_us``.

        The date is guessed with a fixed UTC offset and corrected against the cached
        windows, which is much cheaper than ``astimezone()`` and exact even where the
        window and the local date disagree (a date whose midnight falls in a DST gap).
        """
        ordinal = _EPOCH_ORDINAL + (moment_us + self._offset_guess) // US_PER_DAY
        days = self._days
        day = days.get(ordinal) or self._day(ordinal)
        while moment_us < day[0]:
            ordinal -= 1
            day = days.get(ordinal) or self._day(ordinal)
        while moment_us >= day[1]:
            ordinal += 1
            day = days.get(ordinal) or self._day(ordinal)
        return ordinal, day

    def _midnight(self, ordinal: int) -> tuple[int, int]:
        """Local midnight starting date ``ordinal`` (fold=0) as epoch µs, and its UTC offset
        in µs."""
        cached = self._midnights.get(ordinal)
        if cached is None:
            moment = datetime.combine(date.fromordinal(ordinal), MIDNIGHT, tzinfo=self._zone)
            # A ZoneInfo always has an offset; deriving the instant from it saves a second
            # utcoffset() lookup inside datetime subtraction.
            offset = moment.utcoffset() // ONE_US  # type: ignore[operator]
            cached = ((ordinal - _EPOCH_ORDINAL) * US_PER_DAY - offset, offset)
            if len(self._midnights) > _CACHE_LIMIT:
                self._midnights.clear()
            self._midnights[ordinal] = cached
        return cached

    def _raw_intervals(self, ordinal: int) -> tuple[Interval, ...]:
        """Resolved (not yet merged or clipped) open intervals of one local date."""
        cached = self._raw.get(ordinal)
        if cached is not None:
            return cached
        intervals: list[Interval] = []
        if ordinal not in self._holidays:
            day = date.fromordinal(ordinal)
            zone = self._zone
            for opens, closes, to_next_midnight in self._weekly[day.weekday()]:
                lo = to_us(datetime.combine(day, opens, tzinfo=zone))
                if to_next_midnight:
                    hi = self._midnight(ordinal + 1)[0]
                else:
                    hi = to_us(datetime.combine(day, closes, tzinfo=zone))
                if hi > lo:  # fold=0 inside a DST gap can invert an interval: it is empty
                    intervals.append((lo, hi))
        result = tuple(intervals)
        self._raw[ordinal] = result
        return result

    def _day(self, ordinal: int) -> _Day:
        if len(self._days) > _CACHE_LIMIT:
            self._clear_caches()
        midnight = self._midnight
        window_lo, offset = midnight(ordinal)
        window_hi, next_offset = midnight(ordinal + 1)
        if ordinal in self._holidays or window_hi <= window_lo:
            day: _Day = (window_lo, window_hi, (), 0)
        elif offset == next_offset == midnight(ordinal - 1)[1] == midnight(ordinal + 2)[1]:
            # No offset change from the day before to the day after (tzdata never changes
            # offset twice within 24 h; the closest pair is ~4 days apart), so the wall
            # times map to UTC by one constant and no neighbour can spill in.
            weekday = (ordinal - 1) % 7
            intervals = tuple([(window_lo + lo, window_lo + hi) for lo, hi in self._wall[weekday]])
            if self._closed and intervals:
                intervals = subtract_closed(
                    intervals, window_lo, window_hi, self._closed, self._closed_ends
                )
                day = (window_lo, window_hi, intervals, sum(hi - lo for lo, hi in intervals))
            else:
                day = (window_lo, window_hi, intervals, self._wall_open[weekday])
        else:
            intervals = self._resolve_window(ordinal, window_lo, window_hi)
            day = (window_lo, window_hi, intervals, sum(hi - lo for lo, hi in intervals))
        self._days[ordinal] = day
        return day

    def _resolve_window(self, ordinal: int, window_lo: int, window_hi: int) -> tuple[Interval, ...]:
        """Open intervals of a window near an offset change, from first principles."""
        # DST resolution can push a date's interval past its own midnight (a gap that
        # straddles midnight), so the neighbours' intervals are clipped in as well.
        pieces = sorted(
            self._raw_intervals(ordinal - 1)
            + self._raw_intervals(ordinal)
            + self._raw_intervals(ordinal + 1)
        )
        merged: list[Interval] = []
        for lo, hi in pieces:
            lo = max(lo, window_lo)
            hi = min(hi, window_hi)
            if hi <= lo:
                continue
            if merged and lo <= merged[-1][1]:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        if self._closed and merged:
            return subtract_closed(merged, window_lo, window_hi, self._closed, self._closed_ends)
        return tuple(merged)

    def _week_total(self, ordinal: int) -> int | None:
        """Open µs in the 7 day windows from ``ordinal`` if cheaply known, else ``None``.

        Known cases: the whole week lies inside one closed window (0), or the week is
        "plain" - no holiday, no closed window and one UTC offset throughout - so it holds
        exactly the nominal weekly hours.  The offset is compared at every local midnight
        from the day before to the day after the week: resolution of a day's intervals can
        only deviate from nominal across an offset change, and real zones never change
        offset twice within a single day.
        """
        result: int | None = self._nominal_week
        week_lo = self._midnight(ordinal)[0]
        week_hi = self._midnight(ordinal + 7)[0]
        if self._closed:
            index = bisect_right(self._closed_ends, week_lo)
            if index < len(self._closed):
                closed_lo, closed_hi = self._closed[index]
                if closed_lo <= week_lo and closed_hi >= week_hi:
                    result = 0
                elif closed_lo < week_hi:
                    result = None
        if result:
            index = bisect_left(self._holidays_sorted, ordinal)
            if index < len(self._holidays_sorted) and self._holidays_sorted[index] < ordinal + 7:
                result = None
        if result:
            offset = self._midnight(ordinal - 1)[1]
            for other in range(ordinal, ordinal + 9):
                if self._midnight(other)[1] != offset:
                    result = None
                    break
        self._weeks[ordinal] = result
        return result

    def _clear_caches(self) -> None:
        self._weeks_cache.clear()
        self._raw.clear()
        self._days.clear()
        self._weeks.clear()
