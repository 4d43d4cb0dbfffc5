"""Property tests: the business-time engine against a deliberately naive reference oracle.

The oracle shares no code with the engine: it resolves every interval of every local date in
a range with ``datetime.combine(..., tzinfo=ZoneInfo(tz))``, takes the union in UTC, removes
holidays (whole local dates) and closed windows, then sums or scans the resulting list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.calendars.businesstime import BusinessHours

UTC = UTC
ONE_DAY = timedelta(days=1)
Span = tuple[datetime, datetime]
Weekly = dict[int, list[tuple[time, time]]]

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",  # southern hemisphere: DST spans the new year
    "Asia/Kolkata",  # +05:30, no DST
    "America/Santiago",  # transitions at local midnight: the midnight itself is skipped
    "Australia/Lord_Howe",  # 30-minute DST shift
]

# Kept small so the file runs in seconds; raise it for a deep soak, e.g.
# BUSINESSTIME_MAX_EXAMPLES=5000 pytest tests/calendars/test_businesstime_properties.py
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("BUSINESSTIME_MAX_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# ------------------------------------------------------------------------- the oracle


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _subtract(spans: list[Span], holes: list[Span]) -> list[Span]:
    result = []
    for lo, hi in spans:
        pieces = [(lo, hi)]
        for hole_lo, hole_hi in holes:
            pieces = [
                piece
                for p_lo, p_hi in pieces
                for piece in ((p_lo, min(p_hi, hole_lo)), (max(p_lo, hole_hi), p_hi))
                if piece[0] < piece[1]
            ]
        result.extend(pieces)
    return result


@dataclass(frozen=True)
class Calendar:
    tz: str
    weekly: Weekly
    holidays: frozenset[date]
    closed: tuple[Span, ...]

    def engine(self) -> BusinessHours:
        return BusinessHours(self.tz, self.weekly, self.holidays, self.closed)

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(self.tz)).astimezone(UTC)

    def open_spans(self, first: date, last: date) -> list[Span]:
        """Open UTC spans from the intervals of local dates ``first..last`` (inclusive)."""
        zone = ZoneInfo(self.tz)
        raw: list[Span] = []
        day = first
        while day <= last:
            if day not in self.holidays:
                for opens, closes in self.weekly.get(day.weekday(), []):
                    end_day = day + ONE_DAY if closes == time(0) else day
                    lo = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
                    hi = datetime.combine(end_day, closes, tzinfo=zone).astimezone(UTC)
                    if hi > lo:
                        raw.append((lo, hi))
            day += ONE_DAY
        holes = [(lo.astimezone(UTC), hi.astimezone(UTC)) for lo, hi in self.closed]
        holes += [(self.midnight(h), self.midnight(h + ONE_DAY)) for h in self.holidays]
        return _subtract(_merge(raw), _merge(holes))

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.tz)).date()

    def between(self, start: datetime, end: datetime) -> int:
        # Same-tzinfo aware arithmetic is wall-clock arithmetic; only UTC is safe.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0
        spans = self.open_spans(
            self.local_date(start) - 2 * ONE_DAY, self.local_date(end) + 2 * ONE_DAY
        )
        total = timedelta()
        for lo, hi in spans:
            lo, hi = max(lo, start), min(hi, end)
            if hi > lo:
                total += hi - lo
        return int(total.total_seconds())

    def add(self, start: datetime, seconds: int) -> datetime | None:
        """Oracle ``add``; ``None`` when no answer exists within ~4 years."""
        start = start.astimezone(UTC)
        if seconds == 0:
            return start
        first = self.local_date(start) - 2 * ONE_DAY
        span_days = 32
        while span_days < 1500:
            last = first + timedelta(days=span_days)
            # Dates after `last` could still open time before this point; beyond it the
            # expansion is incomplete, so an answer there is not trusted.
            trusted_until = self.midnight(last - ONE_DAY)
            remaining = timedelta(seconds=seconds)
            for lo, hi in self.open_spans(first, last):
                if hi <= start:
                    continue
                lo = max(lo, start)
                if hi - lo >= remaining:
                    answer = lo + remaining
                    if answer <= trusted_until:
                        return answer
                    break
                remaining -= hi - lo
            span_days *= 2
        return None


# ------------------------------------------------------------------------- strategies


@cache
def transition_dates(tz: str) -> list[date]:
    """Local dates in 2025-2026 on which the zone's UTC offset changes."""
    zone = ZoneInfo(tz)
    found = []
    day = date(2025, 1, 1)
    while day <= date(2026, 12, 31):
        today = datetime.combine(day, time(0), tzinfo=zone).utcoffset()
        tomorrow = datetime.combine(day + ONE_DAY, time(0), tzinfo=zone).utcoffset()
        if today != tomorrow:
            found.append(day)
        day += ONE_DAY
    return found


def t(hour: int, minute: int = 0) -> time:
    return time(hour, minute)


FIXED_SHAPES: list[Weekly] = [
    {d: [(t(9), t(17))] for d in range(5)},
    {d: [(t(9), t(12)), (t(13), t(17))] for d in range(5)},
    {d: [(t(0), t(0))] for d in range(7)},
    {d: [(t(0), t(12)), (t(12), t(0))] for d in range(7)},  # touching halves
    {5: [(t(0), t(0))], 6: [(t(0), t(0))]},  # weekend only
    {d: [(t(0), t(6)), (t(22), t(0))] for d in range(7)},  # night shift over midnight
    {d: [(t(1), t(4))] for d in range(7)},  # spans the usual DST hour
    {d: [(t(1), t(2, 30)), (t(3), t(5))] for d in range(7)},  # overlaps after a gap
    {d: [(t(0), t(0, 30)), (t(23, 30), t(0))] for d in range(7)},  # hugs midnight
    {0: [(t(9), t(17))], 6: [(t(2, 30), t(3))]},  # inverted on spring-forward Sundays
]


@st.composite
def random_weekly(draw: st.DrawFn) -> Weekly:
    """Random quarter-hour intervals; neighbouring open segments make touching intervals."""
    weekly: Weekly = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
        cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=2, max_size=8)))
        intervals = []
        for lo, hi in pairwise(cuts):
            if draw(st.booleans()):
                intervals.append((t(lo // 4, lo % 4 * 15), t(hi // 4 % 24, hi % 4 * 15)))
        if intervals:
            weekly[weekday] = intervals
    if not weekly:
        weekly[draw(st.integers(0, 6))] = [(t(9), t(17))]
    return weekly


weekly_schedules = st.one_of(st.sampled_from(FIXED_SHAPES), random_weekly())

interesting_times = st.sampled_from(
    [t(0), t(0, 30), t(1), t(1, 30), t(2), t(2, 15), t(2, 30), t(3), t(9), t(17), t(23, 30)]
)
whole_second_times = st.builds(time, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))


@st.composite
def start_moments(draw: st.DrawFn, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    near_transition = st.builds(
        lambda day, shift: day + timedelta(days=shift),
        st.sampled_from(transition_dates(tz) or [date(2026, 3, 29)]),
        st.integers(-2, 1),
    )
    day = draw(st.one_of(near_transition, st.dates(date(2024, 1, 1), date(2027, 12, 31))))
    wall = draw(st.one_of(interesting_times, whole_second_times))
    local = datetime.combine(day, wall, tzinfo=zone).replace(fold=draw(st.integers(0, 1)))
    # The engine must not care which zone the caller's datetime is in.
    shown_in = draw(st.sampled_from([zone, UTC, timezone(timedelta(hours=-7))]))
    return local.astimezone(shown_in)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Calendar, datetime]:
    tz = draw(st.sampled_from(ZONES))
    weekly = draw(weekly_schedules)
    start = draw(start_moments(tz))
    local_day = start.astimezone(ZoneInfo(tz)).date()
    holidays = draw(
        st.frozensets(st.integers(-3, 30).map(lambda n: local_day + timedelta(days=n)), max_size=4)
    )
    closed = []
    for _ in range(draw(st.integers(0, 3))):
        # UTC arithmetic: aware + timedelta in a DST zone would move the wall clock instead.
        lo = start.astimezone(UTC) + timedelta(seconds=draw(st.integers(-3 * 86_400, 20 * 86_400)))
        hi = lo + timedelta(seconds=draw(st.integers(1, 5 * 86_400)))
        shown_in = draw(st.sampled_from([UTC, ZoneInfo(tz)]))
        closed.append((lo.astimezone(shown_in), hi.astimezone(shown_in)))
    return Calendar(tz, weekly, holidays, tuple(closed)), start


def business_seconds(calendar: Calendar) -> st.SearchStrategy[int]:
    """0 up to about three weeks of this calendar's business time, biased to round values."""
    week = sum(
        ((24 * 60 if hi == time(0) else hi.hour * 60 + hi.minute) - lo.hour * 60 - lo.minute) * 60
        for intervals in calendar.weekly.values()
        for lo, hi in intervals
    )
    return st.one_of(
        st.sampled_from([0, 1, 900, 1800, 3600, 8 * 3600, 86_400, week]),
        st.integers(0, 10 * 3600),
        st.integers(0, 3 * week),
    )


# ------------------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(cases(), st.data())
def test_add_matches_oracle(case: tuple[Calendar, datetime], data: st.DataObject) -> None:
    calendar, start = case
    seconds = data.draw(business_seconds(calendar), label="seconds")
    expected = calendar.add(start, seconds)
    assert expected is not None  # every drawn calendar opens again within weeks
    assert calendar.engine().add(start, seconds) == expected


@PROPERTY_SETTINGS
@given(cases(), st.integers(-86_400, 40 * 86_400))
def test_between_matches_oracle(case: tuple[Calendar, datetime], length: int) -> None:
    calendar, start = case
    end = start.astimezone(UTC) + timedelta(seconds=length)
    assert calendar.engine().between(start, end) == calendar.between(start, end)


@PROPERTY_SETTINGS
@given(cases(), st.data())
def test_between_inverts_add(case: tuple[Calendar, datetime], data: st.DataObject) -> None:
    calendar, start = case
    seconds = data.draw(business_seconds(calendar).filter(bool), label="seconds")
    engine = calendar.engine()
    assert engine.between(start, engine.add(start, seconds)) == seconds


@PROPERTY_SETTINGS
@given(cases(), st.data())
def test_add_is_monotonic(case: tuple[Calendar, datetime], data: st.DataObject) -> None:
    calendar, start = case
    first = data.draw(business_seconds(calendar), label="first")
    second = data.draw(business_seconds(calendar), label="second")
    engine = calendar.engine()
    fewer, more = sorted((first, second))
    assert engine.add(start, fewer) <= engine.add(start, more)


@PROPERTY_SETTINGS
@given(cases(), st.integers(0, 20 * 86_400), st.integers(0, 20 * 86_400))
def test_between_is_additive(case: tuple[Calendar, datetime], first: int, second: int) -> None:
    calendar, start = case
    engine = calendar.engine()
    middle = start.astimezone(UTC) + timedelta(seconds=first)
    end = middle + timedelta(seconds=second)
    assert engine.between(start, middle) + engine.between(middle, end) == engine.between(start, end)


# --------------------------------------------------- the fast path (week tables) at large
# The engine answers from fortnight tables (apps/calendars/businessweeks.py) and leaves far
# answers to its day walk (the previous algorithm).  These properties pin the tables to the
# oracle in zones with awkward offsets, to the day walk, and to the laws add/between obey.

WIDE_ZONES = [
    *ZONES,
    "Etc/GMT+12",  # UTC-12: a local week starts on Monday noon UTC
    "Etc/GMT-14",  # UTC+14
    "Pacific/Apia",  # skipped a whole date (2011-12-30) and had DST until 2021
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 with DST
    "Europe/Dublin",  # "negative DST": winter time is the saving time in tzdata
]


@st.composite
def wide_cases(draw: st.DrawFn) -> tuple[Calendar, datetime]:
    tz = draw(st.sampled_from(WIDE_ZONES))
    weekly = draw(weekly_schedules)
    start = draw(start_moments(tz))
    local_day = start.astimezone(ZoneInfo(tz)).date()
    holidays = draw(
        st.frozensets(st.integers(-9, 40).map(lambda n: local_day + timedelta(days=n)), max_size=6)
    )
    closed = []
    for _ in range(draw(st.integers(0, 2))):
        lo = start.astimezone(UTC) + timedelta(seconds=draw(st.integers(-9 * 86_400, 30 * 86_400)))
        hi = lo + timedelta(seconds=draw(st.integers(1, 9 * 86_400)))
        closed.append((lo, hi))
    return Calendar(tz, weekly, holidays, tuple(closed)), start


def instant_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@PROPERTY_SETTINGS
@given(wide_cases(), st.data())
def test_week_tables_match_oracle_in_awkward_zones(
    case: tuple[Calendar, datetime], data: st.DataObject
) -> None:
    calendar, start = case
    seconds = data.draw(business_seconds(calendar), label="seconds")
    length = data.draw(st.integers(-86_400, 30 * 86_400), label="length")
    engine = calendar.engine()
    assert engine.add(start, seconds) == calendar.add(start, seconds)
    end = start.astimezone(UTC) + timedelta(seconds=length)
    assert engine.between(start, end) == calendar.between(start, end)


@PROPERTY_SETTINGS
@given(wide_cases(), st.data())
def test_week_tables_match_the_day_walk(
    case: tuple[Calendar, datetime], data: st.DataObject
) -> None:
    """The day walk (the engine's previous add, still used for far answers) agrees with the
    tables for near and far answers (up to ~12 weeks of business time)."""
    calendar, start = case
    week = sum(
        ((24 * 60 if hi == time(0) else hi.hour * 60 + hi.minute) - lo.hour * 60 - lo.minute) * 60
        for intervals in calendar.weekly.values()
        for lo, hi in intervals
    )
    seconds = data.draw(st.integers(1, 12 * week), label="seconds")
    engine = calendar.engine()
    walked = calendar.engine()._walk(instant_us(start), seconds * 1_000_000)
    assert engine.add(start, seconds) == walked


@PROPERTY_SETTINGS
@given(wide_cases(), st.data())
def test_add_composes(case: tuple[Calendar, datetime], data: st.DataObject) -> None:
    """Adding a then b is adding a + b: an answer is the end of business time, so carrying
    on from it loses and gains nothing."""
    calendar, start = case
    first = data.draw(business_seconds(calendar).filter(bool), label="first")
    second = data.draw(business_seconds(calendar).filter(bool), label="second")
    engine = calendar.engine()
    assert engine.add(engine.add(start, first), second) == engine.add(start, first + second)


@PROPERTY_SETTINGS
@given(wide_cases(), st.integers(0, 40 * 86_400))
def test_add_of_between_reaches_no_later_than_end(
    case: tuple[Calendar, datetime], length: int
) -> None:
    calendar, start = case
    engine = calendar.engine()
    end = start.astimezone(UTC) + timedelta(seconds=length, microseconds=length % 7)
    seconds = engine.between(start, end)
    reached = engine.add(start, seconds)
    assert reached <= end
    assert engine.between(start, reached) == seconds


@PROPERTY_SETTINGS
@given(wide_cases(), st.integers(0, 10 * 86_400), st.data())
def test_later_start_never_ends_earlier(
    case: tuple[Calendar, datetime], shift: int, data: st.DataObject
) -> None:
    calendar, start = case
    seconds = data.draw(business_seconds(calendar), label="seconds")
    engine = calendar.engine()
    later = start.astimezone(UTC) + timedelta(seconds=shift)
    assert engine.add(start, seconds) <= engine.add(later, seconds)


@PROPERTY_SETTINGS
@given(
    wide_cases(),
    st.lists(
        st.tuples(st.integers(-5 * 86_400, 60 * 86_400), st.integers(0, 400_000)),
        min_size=2,
        max_size=12,
    ),
)
def test_answers_do_not_depend_on_what_was_asked_before(
    case: tuple[Calendar, datetime], queries: list[tuple[int, int]]
) -> None:
    """One calendar asked many questions in any order (its week and day caches filling up)
    answers each as a fresh calendar does."""
    calendar, start = case
    shared = calendar.engine()
    for offset, seconds in queries:
        moment = start.astimezone(UTC) + timedelta(seconds=offset)
        assert shared.add(moment, seconds) == calendar.engine().add(moment, seconds)
        end = moment + timedelta(seconds=seconds)
        assert shared.between(moment, end) == calendar.engine().between(moment, end)


@PROPERTY_SETTINGS
@given(wide_cases(), st.data())
def test_long_round_trips(case: tuple[Calendar, datetime], data: st.DataObject) -> None:
    """Far answers (the day walk) and long spans (many week tables) still invert."""
    calendar, start = case
    week = sum(
        ((24 * 60 if hi == time(0) else hi.hour * 60 + hi.minute) - lo.hour * 60 - lo.minute) * 60
        for intervals in calendar.weekly.values()
        for lo, hi in intervals
    )
    seconds = data.draw(st.integers(1, 60 * week), label="seconds")
    engine = calendar.engine()
    assert engine.between(start, engine.add(start, seconds)) == seconds


@PROPERTY_SETTINGS
@given(wide_cases(), st.data())
def test_pytz_zoneinfo_and_utc_inputs_give_the_same_answers(
    case: tuple[Calendar, datetime], data: st.DataObject
) -> None:
    """The engine reads a pytz datetime's offset from its tzinfo object (one offset per
    object, pytz's design) instead of calling utcoffset(); the instant is what counts."""
    calendar, start = case
    seconds = data.draw(business_seconds(calendar), label="seconds")
    shown_in = data.draw(st.sampled_from(WIDE_ZONES), label="shown_in")
    instant = start.astimezone(UTC)
    as_pytz = pytz.timezone(shown_in).normalize(instant.astimezone(pytz.timezone(shown_in)))
    as_zoneinfo = instant.astimezone(ZoneInfo(shown_in))
    end = instant + timedelta(seconds=seconds)
    engine = calendar.engine()
    expected = engine.add(instant, seconds)
    assert engine.add(as_pytz, seconds) == expected
    assert engine.add(as_zoneinfo, seconds) == expected
    assert engine.add(as_pytz, seconds).tzinfo is UTC
    assert engine.between(as_pytz, end.astimezone(pytz.timezone(shown_in))) == engine.between(
        instant, end
    )
