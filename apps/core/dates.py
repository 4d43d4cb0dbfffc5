"""The `date` filter's formats the busy pages print for every moment ("D j M Y, H:i T"
and its shorter kin), written without Django's general formatter: a handoff's page prints
a dozen moments, and each went through a formatter object, its lazy month and day names
and a tz check. tests/core/test_dates.py holds these equal to Django's for any moment, in
any zone, in any year (including the hour a zone repeats, where Django names no zone)."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.utils import timezone
from django.utils.dateformat import format as django_format
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.translation import get_language

# The formats written here; any other goes to Django's formatter.
_WITH_YEAR = "D j M Y, H:i T"
_FORMATS = {_WITH_YEAR: (True, True), "D j M, H:i T": (False, True), "D j M, H:i": (False, False)}


@cache
def _words(language: str | None) -> tuple[list[str], dict[int, str]]:
    """The active language's three-letter day and month names (`D` and `M`), once."""
    days = [str(WEEKDAYS_ABBR[day]) for day in range(7)]
    months = {month: str(MONTHS_3[month]).title() for month in range(1, 13)}
    return days, months


def format_moment(value: datetime, fmt: str) -> str:
    """`django.utils.dateformat.format(value, fmt)` for an aware `value`, as it reads in
    its own zone (pass `timezone.localtime(moment)`)."""
    shape = _FORMATS.get(fmt)
    if shape is None or value.tzinfo is None:
        return django_format(value, fmt)
    with_year, with_zone = shape
    days, months = _words(get_language())
    text = f"{days[value.weekday()]} {value.day} {months[value.month]}"
    if with_year:
        text += f" {value.year:04d}"
    text += f", {value.hour:02d}:{value.minute:02d}"
    if with_zone:
        zone = value.tzinfo
        # Django's `T` names no zone in an hour the zone repeats or skips.
        if zone.utcoffset(value.replace(fold=not value.fold)) != zone.utcoffset(value):
            text += " "
        else:
            text += f" {zone.tzname(value)}"
    return text


def local_moment(moment: datetime, fmt: str) -> str:
    """The `date` filter's output for `moment`: in the reader's zone (the active one)."""
    return format_moment(timezone.localtime(moment), fmt)
