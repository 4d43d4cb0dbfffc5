"""Example-based tests of the pure-Python business-time engine (no Django, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from apps.calendars import businesstime
from apps.calendars.businesstime import BusinessHours

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600

MON_FRI_9_17 = {day: [(time(9), time(17))] for day in range(5)}
SPLIT_SHIFT = {day: [(time(9), time(12)), (time(13), time(17))] for day in range(5)}
ALWAYS = {day: [(time(0), time(0))] for day in range(7)}
# Straddles 02:00-03:00, the hour that DST skips or repeats in Berlin and New York.
NIGHT_1_TO_4 = {day: [(time(1), time(4))] for day in range(7)}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


# 2026-01-05 is a Monday; 2026-01-09 the Friday and 2026-01-10/11 the weekend after.
@pytest.fixture
def office() -> BusinessHours:
    return BusinessHours("UTC", MON_FRI_9_17)


# ------------------------------------------------------------------------ basic add


@pytest.mark.parametrize(
    ("start", "seconds", "expected"),
    [
        (utc(2026, 1, 5, 10), 2 * HOUR, utc(2026, 1, 5, 12)),
        (utc(2026, 1, 5, 9), 8 * HOUR, utc(2026, 1, 5, 17)),  # end of day, not Tue 09:00
        (utc(2026, 1, 5, 16), 2 * HOUR, utc(2026, 1, 6, 10)),
        (utc(2026, 1, 5, 7), HOUR, utc(2026, 1, 5, 10)),  # before opening
        (utc(2026, 1, 5, 18), HOUR, utc(2026, 1, 6, 10)),  # after closing
        (utc(2026, 1, 10, 12), HOUR, utc(2026, 1, 12, 10)),  # Saturday
        (utc(2026, 1, 11, 23, 59), 30 * 60, utc(2026, 1, 12, 9, 30)),  # Sunday night
        (utc(2026, 1, 5, 9), 40 * HOUR, utc(2026, 1, 9, 17)),  # a full week
        (utc(2026, 1, 5, 9), 40 * HOUR + 1, utc(2026, 1, 12, 9, 0, 1)),
        (utc(2026, 1, 5, 12), 400 * HOUR, utc(2026, 3, 16, 12)),  # ten weeks later
    ],
)
def test_add_mon_fri(
    office: BusinessHours, start: datetime, seconds: int, expected: datetime
) -> None:
    assert office.add(start, seconds) == expected


def test_friday_afternoon_ends_at_friday_close(office: BusinessHours) -> None:
    # The last business second elapses at 17:00; Monday 09:00 is the same business
    # moment but the contract picks the earliest instant.
    assert office.add(utc(2026, 1, 9, 16), HOUR) == utc(2026, 1, 9, 17)
    assert office.add(utc(2026, 1, 9, 16), HOUR + 1) == utc(2026, 1, 12, 9, 0, 1)


def test_result_is_aware_utc_whatever_the_input_zone(office: BusinessHours) -> None:
    result = office.add(datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=5))), HOUR)
    assert result == utc(2026, 1, 5, 10)  # 10:00+05:00 is 05:00Z, before opening
    assert result.tzinfo is UTC


def test_add_zero_returns_start_even_when_closed(office: BusinessHours) -> None:
    saturday = berlin(2026, 1, 10, 12)
    result = office.add(saturday, 0)
    assert result == saturday
    assert result.tzinfo is UTC


def test_add_rejects_negative_seconds(office: BusinessHours) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        office.add(utc(2026, 1, 5), -1)


def test_add_rejects_non_integer_seconds(office: BusinessHours) -> None:
    with pytest.raises(TypeError):
        office.add(utc(2026, 1, 5), 1.5)  # type: ignore[arg-type]


# -------------------------------------------------------------------- basic between


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (utc(2026, 1, 5, 10), utc(2026, 1, 5, 11, 30), 90 * 60),
        (utc(2026, 1, 5), utc(2026, 1, 12), 40 * HOUR),
        (utc(2026, 1, 9, 16), utc(2026, 1, 12, 10), 2 * HOUR),  # over the weekend
        (utc(2026, 1, 10), utc(2026, 1, 12), 0),
        (utc(2026, 1, 5), utc(2027, 1, 4), 52 * 40 * HOUR),  # a year, via week jumps
    ],
)
def test_between_mon_fri(
    office: BusinessHours, start: datetime, end: datetime, expected: int
) -> None:
    assert office.between(start, end) == expected


def test_between_is_zero_when_end_not_after_start(office: BusinessHours) -> None:
    assert office.between(utc(2026, 1, 5, 12), utc(2026, 1, 5, 12)) == 0
    assert office.between(utc(2026, 1, 5, 12), utc(2026, 1, 5, 10)) == 0


def test_between_floors_to_whole_seconds(office: BusinessHours) -> None:
    start = utc(2026, 1, 5, 10)
    assert office.between(start, start + timedelta(seconds=1, microseconds=999_999)) == 1


def test_round_trip(office: BusinessHours) -> None:
    starts = [utc(2026, 1, 3) + timedelta(hours=7 * i, minutes=13 * i) for i in range(40)]
    for start in starts:
        for seconds in (1, 1800, 8 * HOUR, 40 * HOUR, 1000 * HOUR + 17):
            assert office.between(start, office.add(start, seconds)) == seconds


# ------------------------------------------------------------------------- holidays


def test_holiday_is_skipped() -> None:
    calendar = BusinessHours("UTC", MON_FRI_9_17, holidays=[date(2026, 1, 5)])
    assert calendar.add(utc(2026, 1, 2, 16), 2 * HOUR) == utc(2026, 1, 6, 10)
    assert calendar.between(utc(2026, 1, 5), utc(2026, 1, 12)) == 32 * HOUR


def test_holiday_closes_the_local_date() -> None:
    # 23:00Z on the 4th is already the 5th in Berlin, so the holiday closes it.
    calendar = BusinessHours("Europe/Berlin", ALWAYS, holidays=[date(2026, 1, 5)])
    assert calendar.between(utc(2026, 1, 4, 22), utc(2026, 1, 5, 23)) == HOUR
    assert calendar.add(utc(2026, 1, 4, 22, 30), HOUR) == utc(2026, 1, 5, 23, 30)


def test_holiday_on_spring_forward_day_closes_only_that_date() -> None:
    calendar = BusinessHours("Europe/Berlin", ALWAYS, holidays=[date(2026, 3, 29)])
    assert calendar.between(berlin(2026, 3, 28), berlin(2026, 3, 31)) == 48 * HOUR


def test_holidays_must_be_dates() -> None:
    with pytest.raises(ValueError, match="dates"):
        BusinessHours("UTC", MON_FRI_9_17, holidays=[datetime(2026, 1, 5)])


# ---------------------------------------------------------------------- split shift


def test_split_shift() -> None:
    calendar = BusinessHours("UTC", SPLIT_SHIFT)
    assert calendar.add(utc(2026, 1, 5, 11), 2 * HOUR) == utc(2026, 1, 5, 14)
    assert calendar.add(utc(2026, 1, 5, 11), HOUR) == utc(2026, 1, 5, 12)  # not 13:00
    assert calendar.add(utc(2026, 1, 5, 12, 30), HOUR) == utc(2026, 1, 5, 14)  # at lunch
    assert calendar.between(utc(2026, 1, 5), utc(2026, 1, 6)) == 7 * HOUR
    assert calendar.between(utc(2026, 1, 5, 11), utc(2026, 1, 5, 14)) == 2 * HOUR


def test_touching_intervals_are_one_stretch() -> None:
    calendar = BusinessHours("UTC", {0: [(time(9), time(12)), (time(12), time(17))]})
    assert calendar.between(utc(2026, 1, 5), utc(2026, 1, 6)) == 8 * HOUR
    assert calendar.add(utc(2026, 1, 5, 11), 2 * HOUR) == utc(2026, 1, 5, 13)


# ---------------------------------------------------------------------------- 24x7


def test_always_open_is_plain_elapsed_time() -> None:
    calendar = BusinessHours("UTC", ALWAYS)
    start = utc(2026, 1, 5, 13, 14, 15)
    assert calendar.add(start, 10 * 86_400 + 7) == start + timedelta(days=10, seconds=7)
    assert calendar.between(start, start + timedelta(days=400)) == 400 * 86_400
    # Midnight is seamless: no day boundary shows up as a gap or an overlap.
    assert calendar.add(utc(2026, 1, 5, 23), 2 * HOUR) == utc(2026, 1, 6, 1)
    assert calendar.between(utc(2026, 1, 5, 23), utc(2026, 1, 6, 1)) == 2 * HOUR


def test_night_shift_across_midnight() -> None:
    night = {day: [(time(0), time(6)), (time(22), time(0))] for day in range(7)}
    calendar = BusinessHours("UTC", night)
    assert calendar.add(utc(2026, 1, 5, 23), 2 * HOUR) == utc(2026, 1, 6, 1)
    assert calendar.between(utc(2026, 1, 5, 12), utc(2026, 1, 6, 12)) == 8 * HOUR


# -------------------------------------------------------------------- closed windows


def test_closed_window_inside_a_day() -> None:
    calendar = BusinessHours(
        "UTC", MON_FRI_9_17, closed=[(utc(2026, 1, 5, 12), utc(2026, 1, 5, 14))]
    )
    assert calendar.between(utc(2026, 1, 5), utc(2026, 1, 6)) == 6 * HOUR
    assert calendar.add(utc(2026, 1, 5, 11), 2 * HOUR) == utc(2026, 1, 5, 15)
    assert calendar.add(utc(2026, 1, 5, 11), HOUR) == utc(2026, 1, 5, 12)
    assert calendar.add(utc(2026, 1, 5, 12, 30), HOUR) == utc(2026, 1, 5, 15)


def test_closed_window_spanning_days() -> None:
    window = (berlin(2026, 1, 6, 16), berlin(2026, 1, 8, 11))  # Tue 15:00Z - Thu 10:00Z
    calendar = BusinessHours("UTC", MON_FRI_9_17, closed=[window])
    assert calendar.add(utc(2026, 1, 6, 14), 2 * HOUR) == utc(2026, 1, 8, 11)
    assert calendar.between(utc(2026, 1, 5), utc(2026, 1, 10)) == 29 * HOUR


def test_overlapping_closed_windows_are_not_subtracted_twice() -> None:
    closed = [
        (utc(2026, 1, 5, 11), utc(2026, 1, 5, 13)),
        (utc(2026, 1, 5, 10), utc(2026, 1, 5, 12)),
        (utc(2026, 1, 5, 13), utc(2026, 1, 5, 13)),  # empty: ignored
    ]
    calendar = BusinessHours("UTC", MON_FRI_9_17, closed=closed)
    assert calendar.between(utc(2026, 1, 5), utc(2026, 1, 6)) == 5 * HOUR


def test_closed_window_validation() -> None:
    with pytest.raises(ValueError, match="aware"):
        BusinessHours("UTC", ALWAYS, closed=[(datetime(2026, 1, 5), utc(2026, 1, 6))])
    with pytest.raises(ValueError, match="before it starts"):
        BusinessHours("UTC", ALWAYS, closed=[(utc(2026, 1, 6), utc(2026, 1, 5))])


# -------------------------------------------------------------------------------- DST


@pytest.mark.parametrize(
    ("tz", "day", "expected_hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("Europe/Berlin", date(2026, 3, 30), 24),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
    ],
)
def test_always_open_dst_days_have_real_length(tz: str, day: date, expected_hours: int) -> None:
    zone = ZoneInfo(tz)
    calendar = BusinessHours(tz, ALWAYS)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    assert calendar.between(start, end) == expected_hours * HOUR
    assert calendar.add(start, expected_hours * HOUR) == end


@pytest.mark.parametrize(
    ("tz", "day", "expected_hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 2),
        ("Europe/Berlin", date(2026, 10, 25), 4),
        ("Europe/Berlin", date(2026, 3, 22), 3),
        ("America/New_York", date(2026, 3, 8), 2),
        ("America/New_York", date(2026, 11, 1), 4),
    ],
)
def test_interval_spanning_the_transition(tz: str, day: date, expected_hours: int) -> None:
    zone = ZoneInfo(tz)
    calendar = BusinessHours(tz, NIGHT_1_TO_4)
    start = datetime.combine(day, time(0), tzinfo=zone)
    assert calendar.between(start, start + timedelta(hours=12)) == expected_hours * HOUR
    closes = datetime.combine(day, time(4), tzinfo=zone)
    assert calendar.add(start, expected_hours * HOUR) == closes


def test_always_open_across_spring_forward_night() -> None:
    calendar = BusinessHours("Europe/Berlin", ALWAYS)
    # Sat 12:00 CET + 24 real hours = Sun 13:00 CEST (11:00Z).
    assert calendar.add(berlin(2026, 3, 28, 12), 24 * HOUR) == utc(2026, 3, 29, 11)


def test_office_hours_across_spring_forward_weekend() -> None:
    calendar = BusinessHours("Europe/Berlin", MON_FRI_9_17)
    # Fri 16:00 CET + 8 h = 1 h on Friday + 7 h on Monday = Mon 16:00 CEST (14:00Z).
    assert calendar.add(berlin(2026, 3, 27, 16), 8 * HOUR) == utc(2026, 3, 30, 14)
    assert calendar.between(berlin(2026, 3, 27, 16), berlin(2026, 3, 30, 16)) == 8 * HOUR


def test_new_york_office_hours_keep_local_wall_time() -> None:
    calendar = BusinessHours("America/New_York", MON_FRI_9_17)
    # Fri 2026-03-06 16:00 EST + 2 h = Mon 2026-03-09 10:00 EDT (14:00Z).
    assert calendar.add(new_york(2026, 3, 6, 16), 2 * HOUR) == utc(2026, 3, 9, 14)
    assert calendar.add(new_york(2026, 10, 30, 16), 2 * HOUR) == utc(2026, 11, 2, 15)


def test_interval_inverted_by_dst_gap_is_empty() -> None:
    # 02:30 does not exist on 2026-03-29; fold=0 resolves it to 01:30Z, after 03:00 CEST
    # (01:00Z), so that Sunday the interval is empty.  Other Sundays it is 30 minutes.
    calendar = BusinessHours("Europe/Berlin", {6: [(time(2, 30), time(3))]})
    assert calendar.between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 0
    assert calendar.between(berlin(2026, 3, 22), berlin(2026, 3, 23)) == 30 * 60
    assert calendar.add(berlin(2026, 3, 28), 60) == utc(2026, 4, 5, 0, 31)


def test_intervals_overlapping_after_dst_resolution_are_not_double_counted() -> None:
    # On 2026-03-29, 01:00-02:30 resolves to 00:00Z-01:30Z and 03:00-05:00 to 01:00Z-03:00Z.
    calendar = BusinessHours("Europe/Berlin", {6: [(time(1), time(2, 30)), (time(3), time(5))]})
    assert calendar.between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 3 * HOUR
    assert calendar.add(berlin(2026, 3, 29), 3 * HOUR) == utc(2026, 3, 29, 3)


def test_hours_of_a_skipped_date_resolve_into_the_next_day() -> None:
    # Samoa skipped Friday 2011-12-30 (UTC-10 -> UTC+14 at midnight).  fold=0 resolves that
    # Friday's 09:00-17:00 with the old offset, i.e. onto Saturday 09:00-17:00 local.
    apia = ZoneInfo("Pacific/Apia")
    calendar = BusinessHours("Pacific/Apia", {4: [(time(9), time(17))]})
    assert calendar.between(
        datetime(2011, 12, 29, tzinfo=apia), datetime(2012, 1, 1, tzinfo=apia)
    ) == (8 * HOUR)
    assert calendar.add(datetime(2011, 12, 29, 12, tzinfo=apia), HOUR) == utc(2011, 12, 30, 20)


def test_calendars_sharing_a_zone_do_not_share_hours() -> None:
    berlin_office = BusinessHours("Europe/Berlin", MON_FRI_9_17)
    berlin_always = BusinessHours("Europe/Berlin", ALWAYS, holidays=[date(2026, 1, 6)])
    start = berlin(2026, 1, 5)
    assert berlin_office.between(start, start + timedelta(days=7)) == 40 * HOUR
    assert berlin_always.between(start, start + timedelta(days=7)) == 6 * 24 * HOUR


# ----------------------------------------------------------------------- validation


def test_naive_datetimes_are_rejected(office: BusinessHours) -> None:
    with pytest.raises(ValueError, match="aware"):
        office.add(datetime(2026, 1, 5, 10), HOUR)
    with pytest.raises(ValueError, match="aware"):
        office.between(datetime(2026, 1, 5, 10), utc(2026, 1, 6))
    with pytest.raises(ValueError, match="aware"):
        office.between(utc(2026, 1, 5, 10), datetime(2026, 1, 6))


def test_unknown_time_zone() -> None:
    for name in ("Mars/Olympus_Mons", "Europe", "/etc/passwd", ""):
        with pytest.raises(ValueError, match="time zone"):
            BusinessHours(name, MON_FRI_9_17)


def test_no_open_time_raises_instead_of_looping() -> None:
    start = utc(2026, 1, 5)
    with pytest.raises(ValueError, match="no opening hours"):
        BusinessHours("UTC", {}).add(start, 1)
    with pytest.raises(ValueError, match="no opening hours"):
        BusinessHours("UTC", {0: [], 3: []}).add(start, 1)
    assert BusinessHours("UTC", {}).between(start, start + timedelta(days=30)) == 0

    forever = [(utc(2020, 1, 1), utc(2100, 1, 1))]
    with pytest.raises(ValueError, match="no business time found"):
        BusinessHours("UTC", MON_FRI_9_17, closed=forever).add(start, 1)
    # Open time after a long (but finite) closure is still found.
    decade = [(utc(2026, 1, 1), utc(2034, 1, 2))]
    assert BusinessHours("UTC", MON_FRI_9_17, closed=decade).add(start, HOUR) == utc(2034, 1, 2, 10)


def test_no_open_time_because_of_holidays_raises() -> None:
    mondays = [date(2026, 1, 5) + timedelta(weeks=n) for n in range(600)]  # ~11.5 years
    calendar = BusinessHours("UTC", {0: [(time(9), time(17))]}, holidays=mondays)
    with pytest.raises(ValueError, match="no business time found"):
        calendar.add(utc(2026, 1, 1), 1)


def test_cache_eviction_keeps_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = BusinessHours("Europe/Berlin", SPLIT_SHIFT, holidays=[date(2026, 4, 3)])
    starts = [berlin(2026, 1, 1) + timedelta(hours=37 * n) for n in range(200)]
    expected = [reference.add(start, 50 * HOUR) for start in starts]
    monkeypatch.setattr(businesstime, "_CACHE_LIMIT", 10)
    tiny = BusinessHours("Europe/Berlin", SPLIT_SHIFT, holidays=[date(2026, 4, 3)])
    assert [tiny.add(start, 50 * HOUR) for start in starts] == expected
    assert tiny.between(starts[0], starts[-1]) == reference.between(starts[0], starts[-1])


@pytest.mark.parametrize(
    "weekly",
    [
        {7: [(time(9), time(17))]},
        {-1: [(time(9), time(17))]},
        {"mon": [(time(9), time(17))]},
        {True: [(time(9), time(17))]},
        {0: [(time(17), time(9))]},  # reversed
        {0: [(time(9), time(9))]},  # empty
        {0: [(time(9), time(12)), (time(11), time(13))]},  # overlapping
        {0: [(time(22), time(0)), (time(23), time(23, 30))]},  # overlaps the 24:00 end
        {0: [(9, 17)]},
        {0: [(time(9),)]},
        {0: [(time(9, tzinfo=UTC), time(17))]},
        [(time(9), time(17))],
    ],
)
def test_invalid_weekly_is_rejected(weekly: object) -> None:
    with pytest.raises(ValueError):
        BusinessHours("UTC", weekly)  # type: ignore[arg-type]


def test_caches_give_identical_answers(office: BusinessHours) -> None:
    start = utc(2026, 1, 7, 15, 30)
    first = [office.add(start, n * 1800) for n in range(200)]
    second = [office.add(start, n * 1800) for n in range(200)]
    assert first == second
    assert first == sorted(first)
