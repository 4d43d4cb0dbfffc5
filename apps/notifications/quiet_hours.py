"""A person's quiet hours: when their working day next starts (no Django import).

Working hours are Monday to Friday, from `starts` to `ends` on the wall clock of the
person's own time zone; outside them, non-urgent email waits for the next start.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WORKING_DAYS = range(0, 5)  # Monday to Friday


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _instant(day, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone`, as an aware UTC instant. On the day the clocks go forward a
    wall time inside the gap (02:30 in Berlin's spring) does not exist: zoneinfo reads it
    with the offset before the change, an hour of real time after 02:00 (03:30 on the
    wall) — still the first moment that day's working hours have certainly begun."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def is_working(moment: datetime, *, zone: str, starts: time, ends: time) -> bool:
    local = moment.astimezone(_zone(zone))
    return local.weekday() in WORKING_DAYS and starts <= local.time().replace(tzinfo=None) < ends


def next_working_start(moment: datetime, *, zone: str, starts: time, ends: time) -> datetime | None:
    """None when `moment` falls inside the person's working hours; else the UTC instant
    their next working day starts (later the same day, or the next weekday)."""
    if is_working(moment, zone=zone, starts=starts, ends=ends):
        return None
    tz = _zone(zone)
    day = moment.astimezone(tz).date()
    # At most a weekend and a day away; eight days covers any start in the gap of a DST
    # change as well.
    for offset in range(8):
        candidate = _instant(day + timedelta(days=offset), starts, tz)
        if (day + timedelta(days=offset)).weekday() in WORKING_DAYS and candidate > moment:
            return candidate
    return None  # unreachable with a valid start time; callers then send at once
