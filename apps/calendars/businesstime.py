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
and each window's open intervals are computed once and cached.  ``add``/``between`` walk
days (never minutes) and jump over whole "plain" weeks (no holiday, closed window or UTC
offset change) using the precomputed nominal seconds of a standard week.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessHours"]

_US_PER_SECOND: Final = 1_000_000
_US_PER_DAY: Final = 86_400 * _US_PER_SECOND
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = _EPOCH.toordinal()
_ONE_US: Final = timedelta(microseconds=1)
_MIDNIGHT: Final = time(0)

# add() gives up when no open time at all has been seen for this many days (~10 years);
# without a bound, a calendar whose open time is entirely covered by closed windows or
# holidays would loop forever.
_HORIZON_DAYS: Final = 3653

# Caches are per instance and keyed by date ordinal; cap them so a long-lived calendar
# queried over centuries cannot grow without bound (recomputing is always correct).
_CACHE_LIMIT: Final = 200_000

# Local midnights depend only on the zone, and calendars are typically rebuilt per request
# from the database, so this table is shared by all instances: zone key -> date ordinal ->
# (midnight as epoch µs, UTC offset in µs).  Racing writers store identical values.
_ZONE_MIDNIGHTS: dict[str, dict[int, tuple[int, int]]] = {}

# Half-open [start, end) in microseconds since the epoch (UTC).
Interval = tuple[int, int]
# Cached local-day window: (window start, window end, open intervals, open microseconds).
_Day = tuple[int, int, tuple[Interval, ...], int]
# Weekly rule after validation: (start wall time, end wall time, end is next midnight).
_Rule = tuple[time, time, bool]
# Offsets from local midnight in µs, merged, for days without a UTC offset change.
_WallIntervals = tuple[Interval, ...]
WeeklySchedule = Mapping[int, Iterable[tuple[time, time]]]


def _to_us(moment: datetime) -> int:
    # timedelta // timedelta is exact integer arithmetic (no float rounding).
    return (moment - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    # Positional timedelta arguments are measurably faster than keywords (add() inlines it).
    return _EPOCH + timedelta(0, 0, us)


def _instant_us(moment: datetime, name: str) -> int:
    # EAFP: subtracting from an aware datetime is the check itself, and it calls the
    # (possibly slow, e.g. pytz) utcoffset() only once.  add() inlines this.
    try:
        return (moment - _EPOCH) // _ONE_US
    except TypeError:
        raise _not_an_instant(moment, name) from None


def _not_an_instant(moment: object, name: str) -> Exception:
    if isinstance(moment, datetime):
        return ValueError(f"{name} must be timezone-aware, got naive {moment!r}")
    return TypeError(f"{name} must be a datetime, got {type(moment).__name__}")


def _wall_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


def _load_zone(tz: str) -> ZoneInfo:
    if not isinstance(tz, str):
        raise ValueError(f"tz must be an IANA time zone name, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _normalise_weekly(weekly: WeeklySchedule) -> tuple[tuple[_Rule, ...], ...]:
    if not isinstance(weekly, Mapping):
        raise ValueError("weekly must be a mapping of weekday (0-6) to intervals")
    days: list[tuple[_Rule, ...]] = [()] * 7
    for weekday, intervals in weekly.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"weekday keys must be integers 0-6, got {weekday!r}")
        parsed: list[tuple[int, int, _Rule]] = []
        for interval in intervals:
            try:
                opens, closes = interval
            except (TypeError, ValueError):
                raise ValueError(
                    f"interval must be a (start, end) pair, got {interval!r}"
                ) from None
            if not isinstance(opens, time) or not isinstance(closes, time):
                raise ValueError(f"interval bounds must be datetime.time, got {interval!r}")
            if opens.tzinfo is not None or closes.tzinfo is not None:
                raise ValueError("interval bounds are wall-clock times and must be naive")
            # The contract resolves wall times with fold=0; a stray fold=1 must not leak
            # into datetime.combine().
            opens, closes = opens.replace(fold=0), closes.replace(fold=0)
            to_next_midnight = closes == _MIDNIGHT
            lo = _wall_us(opens)
            hi = _US_PER_DAY if to_next_midnight else _wall_us(closes)
            if lo >= hi:
                raise ValueError(f"interval start must be before its end, got {interval!r}")
            parsed.append((lo, hi, (opens, closes, to_next_midnight)))
        parsed.sort(key=lambda item: item[0])
        for (_, prev_hi, prev), (lo, _, cur) in pairwise(parsed):
            if lo < prev_hi:  # touching intervals are fine; overlapping ones are a bug
                raise ValueError(f"overlapping intervals on weekday {weekday}: {prev} / {cur}")
        days[weekday] = tuple(rule for _, _, rule in parsed)
    return tuple(days)


def _normalise_closed(closed: Iterable[tuple[datetime, datetime]]) -> list[Interval]:
    windows: list[Interval] = []
    for window in closed:
        try:
            start, end = window
        except (TypeError, ValueError):
            raise ValueError(f"closed window must be a (start, end) pair, got {window!r}") from None
        lo, hi = _instant_us(start, "closed window start"), _instant_us(end, "closed window end")
        if hi < lo:
            raise ValueError(f"closed window ends before it starts: {window!r}")
        if hi > lo:  # an empty window closes nothing
            windows.append((lo, hi))
    windows.sort()
    merged: list[Interval] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _wall_intervals(rules: tuple[_Rule, ...]) -> _WallIntervals:
    merged: list[Interval] = []
    for opens, closes, to_next_midnight in rules:  # sorted and non-overlapping
        lo = _wall_us(opens)
        hi = _US_PER_DAY if to_next_midnight else _wall_us(closes)
        if merged and merged[-1][1] == lo:  # touching: one stretch
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


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
        self._zone = _load_zone(tz)
        self._weekly = _normalise_weekly(weekly)
        self._wall = tuple(_wall_intervals(rules) for rules in self._weekly)
        self._wall_open = tuple(sum(hi - lo for lo, hi in day) for day in self._wall)
        self._nominal_week = sum(self._wall_open)
        # Only a starting point for finding an instant's local date (see _locate).
        offset = datetime(2000, 1, 1, tzinfo=UTC).astimezone(self._zone).utcoffset()
        self._offset_guess = (offset or timedelta()) // _ONE_US

        holiday_ordinals: set[int] = set()
        for holiday in holidays:
            # datetime is a date subclass; silently truncating one would hide a caller bug.
            if not isinstance(holiday, date) or isinstance(holiday, datetime):
                raise ValueError(f"holidays must be dates, got {holiday!r}")
            holiday_ordinals.add(holiday.toordinal())
        self._holidays = frozenset(holiday_ordinals)
        self._holidays_sorted = sorted(holiday_ordinals)

        self._closed = _normalise_closed(closed)
        self._closed_ends = [hi for _, hi in self._closed]

        self._midnights = _ZONE_MIDNIGHTS.setdefault(self._zone.key, {})
        self._raw: dict[int, tuple[Interval, ...]] = {}
        self._days: dict[int, _Day] = {}
        self._weeks: dict[int, int | None] = {}

    def __repr__(self) -> str:
        return (
            f"BusinessHours(tz={self._tz_name!r}, open_seconds_per_week="
            f"{self._nominal_week // _US_PER_SECOND}, holidays={len(self._holidays)}, "
            f"closed={len(self._closed)})"
        )

    # ----------------------------------------------------------------- public API

    def add(self, start: datetime, seconds: int) -> datetime:
        """Return the earliest instant (UTC) at which ``seconds`` business seconds elapsed."""
        # The hot path inlines _instant_us(), _locate() and _from_us(): at a few µs per
        # call, Python call overhead is a sizeable share.
        try:
            start_us = (start - _EPOCH) // _ONE_US
        except TypeError:
            raise _not_an_instant(start, "start") from None
        if type(seconds) is not int:
            seconds = operator.index(seconds)
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        if seconds == 0:
            return _from_us(start_us)
        if self._nominal_week == 0:
            raise ValueError("calendar has no opening hours; business time never elapses")

        remaining = seconds * _US_PER_SECOND
        days = self._days
        ordinal = _EPOCH_ORDINAL + (start_us + self._offset_guess) // _US_PER_DAY
        day = days.get(ordinal)
        if day is None or not day[0] <= start_us < day[1]:
            ordinal, day = self._locate(start_us)
        for lo, hi in day[2]:
            if hi <= start_us:
                continue
            if lo < start_us:
                lo = start_us
            if hi - lo >= remaining:
                return _EPOCH + timedelta(0, 0, lo + remaining)
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
                        return _EPOCH + timedelta(0, 0, lo + remaining)
                    remaining -= hi - lo
            if day[3]:
                remaining -= day[3]
                last_open = ordinal
            elif ordinal - last_open > _HORIZON_DAYS:
                break
            ordinal += 1
        raise ValueError(
            f"no business time found within {_HORIZON_DAYS} days after "
            f"{_from_us(self._midnight(last_open)[0]).isoformat()}; the calendar is closed"
        )

    def between(self, start: datetime, end: datetime) -> int:
        """Return the whole business seconds in ``[start, end)`` (0 if ``end <= start``)."""
        start_us = _instant_us(start, "start")
        end_us = _instant_us(end, "end")
        if end_us <= start_us:
            return 0

        ordinal, day = self._locate(start_us)
        days = self._days
        total = 0
        while day[0] < end_us:
            if start_us <= day[0] and day[1] <= end_us:
                total += day[3]
            else:
                for lo, hi in day[2]:
                    if lo < start_us:
                        lo = start_us
                    if hi > end_us:
                        hi = end_us
                    if hi > lo:
                        total += hi - lo
            ordinal += 1
            while self._midnight(ordinal + 7)[0] <= end_us:
                week = self._weeks.get(ordinal, -1)
                if week == -1:
                    week = self._week_total(ordinal)
                if week is None:
                    break
                total += week
                ordinal += 7
            day = days.get(ordinal) or self._day(ordinal)
        return total // _US_PER_SECOND

    # ------------------------------------------------------------------ internals

    def _locate(self, moment_us: int) -> tuple[int, _Day]:
        """Return the local-day window containing the instant ``moment_us``.

        The date is guessed with a fixed UTC offset and corrected against the cached
        windows, which is much cheaper than ``astimezone()`` and exact even where the
        window and the local date disagree (a date whose midnight falls in a DST gap).
        """
        ordinal = _EPOCH_ORDINAL + (moment_us + self._offset_guess) // _US_PER_DAY
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
            moment = datetime.combine(date.fromordinal(ordinal), _MIDNIGHT, tzinfo=self._zone)
            # A ZoneInfo always has an offset; deriving the instant from it saves a second
            # utcoffset() lookup inside datetime subtraction.
            offset = moment.utcoffset() // _ONE_US  # type: ignore[operator]
            cached = ((ordinal - _EPOCH_ORDINAL) * _US_PER_DAY - offset, offset)
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
                lo = _to_us(datetime.combine(day, opens, tzinfo=zone))
                if to_next_midnight:
                    hi = self._midnight(ordinal + 1)[0]
                else:
                    hi = _to_us(datetime.combine(day, closes, tzinfo=zone))
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
                intervals = self._subtract_closed(intervals, window_lo, window_hi)
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
            return self._subtract_closed(merged, window_lo, window_hi)
        return tuple(merged)

    def _subtract_closed(
        self, merged: Sequence[Interval], lo: int, hi: int
    ) -> tuple[Interval, ...]:
        closed = self._closed
        first = bisect_right(self._closed_ends, lo)
        relevant: list[Interval] = []
        for index in range(first, len(closed)):
            if closed[index][0] >= hi:
                break
            relevant.append(closed[index])
        if not relevant:
            return tuple(merged)
        result: list[Interval] = []
        for open_lo, open_hi in merged:
            for closed_lo, closed_hi in relevant:
                if closed_hi <= open_lo:
                    continue
                if closed_lo >= open_hi:
                    break
                if closed_lo > open_lo:
                    result.append((open_lo, closed_lo))
                open_lo = closed_hi
                if open_lo >= open_hi:
                    break
            if open_lo < open_hi:
                result.append((open_lo, open_hi))
        return tuple(result)

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
        self._raw.clear()
        self._days.clear()
        self._weeks.clear()
