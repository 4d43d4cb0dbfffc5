"""State changes of business calendars. Each is atomic: a refused change writes nothing."""

from __future__ import annotations

from datetime import date, datetime, time
from itertools import pairwise

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.timezones import is_valid_timezone

from . import holiday_sources
from .models import MIDNIGHT, BusinessCalendar, Holiday, OpeningInterval
from .signals import calendar_changed

Weekly = dict[int, list[tuple[time, time]]]


def validate_weekly(weekly: Weekly) -> dict[int, list[str]]:
    """Errors per weekday: reversed, empty or overlapping intervals. Empty dict = valid."""
    errors: dict[int, list[str]] = {}
    for day, intervals in weekly.items():
        day_errors = []
        ordered = sorted(intervals)
        for start, end in ordered:
            if end != MIDNIGHT and end <= start:
                label = "24:00" if end == MIDNIGHT else f"{end:%H:%M}"
                day_errors.append(f"{start:%H:%M}–{label} ends before it starts.")
        for (s1, e1), (s2, e2) in pairwise(ordered):
            first_end = time.max if e1 == MIDNIGHT else e1
            if s2 < first_end:
                day_errors.append(f"{s1:%H:%M}–{e1:%H:%M} overlaps {s2:%H:%M}–{e2:%H:%M}.")
        if day_errors:
            errors[day] = day_errors
    return errors


def holiday_years(today: date | None = None) -> range:
    """The years whose country holidays a calendar holds: last year to a few ahead."""
    year = (today or timezone.now().date()).year
    return range(year - 1, year + settings.HOLIDAY_YEARS_AHEAD + 1)


def _validate(*, name: str, time_zone: str, weekly: Weekly, country: str, subdivision: str) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["A calendar needs a name."]
    if not is_valid_timezone(time_zone):
        errors["time_zone"] = [f"“{time_zone}” is not a known time zone."]
    if country and country not in holiday_sources.countries():
        errors["holiday_country"] = [f"“{country}” is not a country with known holidays."]
    elif subdivision and not country:
        errors["holiday_subdivision"] = ["Choose a country before a subdivision."]
    elif subdivision and subdivision not in holiday_sources.subdivisions(country):
        known = ", ".join(holiday_sources.subdivisions(country)) or "none"
        errors["holiday_subdivision"] = [
            f"“{subdivision}” is not a subdivision of {country} (known: {known})."
        ]
    for day, messages in validate_weekly(weekly).items():
        errors.setdefault(f"weekday_{day}", []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _import_country_holidays(*, calendar: BusinessCalendar, years: range) -> int:
    """Copy the country's holidays for `years` into the calendar; custom dates win."""
    if not calendar.holiday_country:
        return 0
    found = holiday_sources.country_holiday_dates(
        calendar.holiday_country, calendar.holiday_subdivision, years
    )
    taken = set(calendar.holidays.filter(date__in=found.keys()).values_list("date", flat=True))
    new = [
        Holiday(calendar=calendar, date=day, name=name, source=Holiday.Source.COUNTRY)
        for day, name in found.items()
        if day not in taken
    ]
    # ignore_conflicts: a concurrent import of the same dates must not fail either run.
    Holiday.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


@transaction.atomic
def calendar_save(
    *,
    calendar: BusinessCalendar | None = None,
    name: str,
    time_zone: str,
    is_24x7: bool,
    weekly: Weekly,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    custom_holidays: dict[date, str] | None = None,
    now: datetime | None = None,
) -> BusinessCalendar:
    """Create (no `calendar`, or one not saved yet) or replace a calendar's schedule; its
    country holidays are re-copied when the country changes, custom holidays are replaced
    by `custom_holidays` when given. The deadlines of running clocks on it are recomputed
    in the same transaction."""
    holiday_country = holiday_country.upper().strip()
    holiday_subdivision = holiday_subdivision.strip()
    _validate(
        name=name,
        time_zone=time_zone,
        weekly=weekly,
        country=holiday_country,
        subdivision=holiday_subdivision,
    )
    creating = calendar is None or calendar.pk is None
    calendar = calendar or BusinessCalendar()
    country_changed = creating or (
        (calendar.holiday_country, calendar.holiday_subdivision)
        != (holiday_country, holiday_subdivision)
    )
    calendar.name = name.strip()
    calendar.time_zone = time_zone
    calendar.is_24x7 = is_24x7
    calendar.holiday_country = holiday_country
    calendar.holiday_subdivision = holiday_subdivision
    calendar.full_clean()
    calendar.save()

    calendar.intervals.all().delete()
    if not is_24x7:
        OpeningInterval.objects.bulk_create(
            OpeningInterval(calendar=calendar, weekday=day, start=start, end=end)
            for day, intervals in sorted(weekly.items())
            for start, end in sorted(intervals)
        )
    if custom_holidays is not None:
        calendar.holidays.filter(source=Holiday.Source.CUSTOM).delete()
        # A custom date replaces a country holiday on the same day (its name is the lead's).
        calendar.holidays.filter(date__in=custom_holidays.keys()).delete()
        Holiday.objects.bulk_create(
            Holiday(calendar=calendar, date=day, name=label, source=Holiday.Source.CUSTOM)
            for day, label in sorted(custom_holidays.items())
        )
    if country_changed and not creating:
        calendar_reimport_country_holidays(calendar=calendar, now=now)
    elif country_changed:
        _import_country_holidays(calendar=calendar, years=holiday_years())
    if not creating:
        _changed(calendar, now)
    return calendar


@transaction.atomic
def calendar_hours_edited(*, calendar: BusinessCalendar, now: datetime | None = None) -> None:
    """The calendar's hours or holidays were edited row by row (the admin's inlines and
    holiday pages): recompute the clocks on it, as a page edit does."""
    _changed(calendar, now)


def _changed(calendar: BusinessCalendar, now: datetime | None) -> None:
    """Tell the apps above (the clocks on this calendar) inside this transaction."""
    calendar_changed.send(sender=BusinessCalendar, calendar=calendar, now=now or timezone.now())


@transaction.atomic
def calendar_reimport_country_holidays(
    *, calendar: BusinessCalendar, now: datetime | None = None
) -> int:
    """Replace the calendar's country holidays with its current country's; custom stay."""
    calendar.holidays.filter(source=Holiday.Source.COUNTRY).delete()
    imported = _import_country_holidays(calendar=calendar, years=holiday_years())
    _changed(calendar, now)
    return imported


@transaction.atomic
def calendar_extend_holidays(
    *, calendar: BusinessCalendar, today: date | None = None, now: datetime | None = None
) -> int:
    """Copy country holidays for years not yet held (past dates are never touched)."""
    imported = _import_country_holidays(calendar=calendar, years=holiday_years(today))
    if imported:
        _changed(calendar, now)
    return imported
