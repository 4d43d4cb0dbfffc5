"""What the business-time engine (apps/calendars/businesstime.py) is given, checked and
converted: weekly hours, closed windows and instants as integer microseconds since the
Unix epoch (exact arithmetic, no float rounding)."""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

US_PER_SECOND: Final = 1_000_000
US_PER_DAY: Final = 86_400 * US_PER_SECOND
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US: Final = timedelta(microseconds=1)
MIDNIGHT: Final = time(0)

# tzinfo object -> what to subtract from a datetime in it for its time since the epoch
# (see anchor(); None: naive datetimes, which the subtraction then rejects).
ANCHORS: dict[object, datetime] = {UTC: EPOCH, None: EPOCH}
ANCHORS_LIMIT: Final = 1_000

# Value memos of what calendars are built from (see normalise_weekly), bounded.
MEMO_LIMIT: Final = 256
_WEEKLY_MEMO: dict[tuple, tuple[tuple[Rule, ...], ...]] = {}
_HOLIDAY_MEMO: dict[frozenset, tuple[frozenset[int], list[int]]] = {}

# Half-open [start, end) in microseconds since the epoch (UTC).
Interval = tuple[int, int]
# Weekly rule after validation: (start wall time, end wall time, end is next midnight).
Rule = tuple[time, time, bool]
# Offsets from local midnight in µs, merged, for days without a UTC offset change.
WallIntervals = tuple[Interval, ...]
WeeklySchedule = Mapping[int, Iterable[tuple[time, time]]]


def to_us(moment: datetime) -> int:
    # timedelta // timedelta is exact integer arithmetic (no float rounding).
    return (moment - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    # Positional timedelta arguments are measurably faster than keywords (add() inlines it).
    return EPOCH + timedelta(0, 0, us)


def instant_us(moment: datetime, name: str) -> int:
    """Microseconds since the epoch of an aware datetime (BusinessHours.add inlines this)."""
    try:
        tz = moment.tzinfo
    except AttributeError:
        raise not_an_instant(moment, name) from None
    try:
        base = ANCHORS[tz]
    except KeyError:
        base = anchor(tz)
    except TypeError:  # an unhashable tzinfo
        base = EPOCH
    try:
        # EAFP: subtracting from an aware datetime is the check itself.
        return (moment - base) // ONE_US
    except TypeError:
        raise not_an_instant(moment, name) from None


def anchor(tz: object) -> datetime:
    """The datetime to subtract from an aware datetime in ``tz`` to get its time since the
    epoch: the epoch itself, unless ``tz`` is a pytz zone.

    Subtracting aware datetimes calls ``utcoffset()`` on both, and pytz's is Python code
    that costs more than the rest of an ``add()``.  But a pytz tzinfo object stands for a
    single UTC offset (that is pytz's design: ``localize()`` picks the object for the
    offset, ``normalize()`` swaps it), so the epoch written in that very object (wall time
    1970-01-01 plus the offset) works: datetimes sharing a tzinfo object subtract by wall
    time, without calling ``utcoffset()``.  Any other tzinfo gets the epoch (UTC).
    """
    anchor = EPOCH
    pytz = sys.modules.get("pytz")  # never imported here: only a caller's pytz objects count
    if pytz is not None and isinstance(tz, pytz.BaseTzInfo):
        wall_epoch = datetime(1970, 1, 1, tzinfo=tz)  # type: ignore[arg-type]
        anchor = wall_epoch + wall_epoch.utcoffset()  # type: ignore[operator]
    try:
        if len(ANCHORS) > ANCHORS_LIMIT:
            ANCHORS.clear()
        ANCHORS[tz] = anchor
    except TypeError:  # an unhashable tzinfo: nothing to remember
        pass
    return anchor


def not_an_instant(moment: object, name: str) -> Exception:
    if isinstance(moment, datetime):
        return ValueError(f"{name} must be timezone-aware, got naive {moment!r}")
    return TypeError(f"{name} must be a datetime, got {type(moment).__name__}")


def wall_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * US_PER_SECOND + t.microsecond


def load_zone(tz: str) -> ZoneInfo:
    if not isinstance(tz, str):
        raise ValueError(f"tz must be an IANA time zone name, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def normalise_weekly(weekly: WeeklySchedule) -> tuple[tuple[Rule, ...], ...]:
    """The weekly hours validated, per weekday (0-6) their rules in order.  Memoised by
    value: calendars are rebuilt from the database for each request with the same hours,
    and validating them is most of what building a calendar costs."""
    key = _weekly_key(weekly)
    found = _WEEKLY_MEMO.get(key) if key is not None else None
    if found is None:
        found = _validate_weekly(weekly)
        if key is not None:
            _remember(_WEEKLY_MEMO, key, found)
    return found


def _weekly_key(weekly: object) -> tuple | None:
    """A hashable copy of plain weekly hours (a mapping of ``int`` weekday to a list or
    tuple of ``(time, time)`` tuples), else ``None``: anything else is left to validation,
    without the memo (an iterator, say, would be used up by the key)."""
    if not isinstance(weekly, Mapping):
        return None
    key = []
    for day, intervals in weekly.items():
        if type(day) is not int or type(intervals) not in (list, tuple):
            return None
        for interval in intervals:
            if type(interval) is not tuple or len(interval) != 2:
                return None
            if type(interval[0]) is not time or type(interval[1]) is not time:
                return None
        key.append((day, tuple(intervals)))
    return tuple(key)


def holiday_ordinals(holidays: Iterable[date]) -> tuple[frozenset[int], list[int]]:
    """The holidays' date ordinals, as a set and sorted; memoised by value like the hours."""
    key = None
    if type(holidays) in (set, frozenset, list, tuple) and all(type(h) is date for h in holidays):
        key = frozenset(holidays)
    found = _HOLIDAY_MEMO.get(key) if key is not None else None
    if found is None:
        ordinals: set[int] = set()
        for holiday in holidays:
            # datetime is a date subclass; silently truncating one would hide a caller bug.
            if not isinstance(holiday, date) or isinstance(holiday, datetime):
                raise ValueError(f"holidays must be dates, got {holiday!r}")
            ordinals.add(holiday.toordinal())
        found = (frozenset(ordinals), sorted(ordinals))
        if key is not None:
            _remember(_HOLIDAY_MEMO, key, found)
    return found


def _remember(memo: dict, key: object, value: object) -> None:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def _validate_weekly(weekly: WeeklySchedule) -> tuple[tuple[Rule, ...], ...]:
    if not isinstance(weekly, Mapping):
        raise ValueError("weekly must be a mapping of weekday (0-6) to intervals")
    days: list[tuple[Rule, ...]] = [()] * 7
    for weekday, intervals in weekly.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"weekday keys must be integers 0-6, got {weekday!r}")
        parsed: list[tuple[int, int, Rule]] = []
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
            to_next_midnight = closes == MIDNIGHT
            lo = wall_us(opens)
            hi = US_PER_DAY if to_next_midnight else wall_us(closes)
            if lo >= hi:
                raise ValueError(f"interval start must be before its end, got {interval!r}")
            parsed.append((lo, hi, (opens, closes, to_next_midnight)))
        parsed.sort(key=lambda item: item[0])
        for (_, prev_hi, prev), (lo, _, cur) in pairwise(parsed):
            if lo < prev_hi:  # touching intervals are fine; overlapping ones are a bug
                raise ValueError(f"overlapping intervals on weekday {weekday}: {prev} / {cur}")
        days[weekday] = tuple(rule for _, _, rule in parsed)
    return tuple(days)


def normalise_closed(closed: Iterable[tuple[datetime, datetime]]) -> list[Interval]:
    windows: list[Interval] = []
    for window in closed:
        try:
            start, end = window
        except (TypeError, ValueError):
            raise ValueError(f"closed window must be a (start, end) pair, got {window!r}") from None
        lo, hi = instant_us(start, "closed window start"), instant_us(end, "closed window end")
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


def wall_intervals(rules: tuple[Rule, ...]) -> WallIntervals:
    merged: list[Interval] = []
    for opens, closes, to_next_midnight in rules:  # sorted and non-overlapping
        lo = wall_us(opens)
        hi = US_PER_DAY if to_next_midnight else wall_us(closes)
        if merged and merged[-1][1] == lo:  # touching: one stretch
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def subtract_closed(
    merged: Sequence[Interval], lo: int, hi: int, closed: list[Interval], closed_ends: list[int]
) -> tuple[Interval, ...]:
    """``merged`` (sorted open intervals inside ``[lo, hi)``) minus the closed windows
    (sorted, merged; ``closed_ends`` their ends)."""
    first = bisect_right(closed_ends, lo)
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
