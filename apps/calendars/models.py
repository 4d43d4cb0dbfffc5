"""Business calendars: when a team is open, in its own time zone, minus its holidays."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.accounts.models import validate_timezone
from apps.core.models import TimeStampedModel

from . import holiday_sources
from .businesstime import BusinessHours

MIDNIGHT = time(0)


class Weekday(models.IntegerChoices):
    # Same numbering as date.weekday() and the businesstime contract.
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class BusinessCalendarQuerySet(models.QuerySet):
    def visible_to(self, user) -> BusinessCalendarQuerySet:
        # Calendars say when a team works: anyone signed in may read them.
        if not user.is_authenticated:
            return self.none()
        return self.all()

    def editable_by(self, user) -> BusinessCalendarQuerySet:
        """Calendars of the teams the user leads (every calendar for staff)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(
            teams__memberships__user=user, teams__memberships__role="lead"
        ).distinct()

    def with_schedule(self) -> BusinessCalendarQuerySet:
        return self.prefetch_related("intervals", "holidays")


class BusinessCalendar(TimeStampedModel):
    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA zone."
    )
    is_24x7 = models.BooleanField(
        "open 24×7", default=False, help_text="Open every hour of every day; no holidays."
    )
    holiday_country = models.CharField(
        max_length=8, blank=True, help_text="Public holidays of this country are closed days."
    )
    holiday_subdivision = models.CharField(
        max_length=16, blank=True, help_text="State or region, where holidays differ."
    )

    objects = BusinessCalendarQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.holiday_country and self.holiday_country not in holiday_sources.countries():
            raise ValidationError(
                {
                    "holiday_country": f"“{self.holiday_country}” is not a country with known "
                    "holidays; use an ISO code such as DE or US."
                }
            )
        if self.holiday_subdivision and self.holiday_subdivision not in (
            holiday_sources.subdivisions(self.holiday_country)
        ):
            raise ValidationError(
                {
                    "holiday_subdivision": f"“{self.holiday_subdivision}” is not a subdivision "
                    f"of {self.holiday_country or 'the chosen country'}."
                }
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def weekly(self) -> dict[int, list[tuple[time, time]]]:
        """Open intervals per weekday, in the shape `BusinessHours` takes."""
        if self.is_24x7:
            return {day: [(MIDNIGHT, MIDNIGHT)] for day in range(7)}
        weekly: dict[int, list[tuple[time, time]]] = {day: [] for day in range(7)}
        # Sorted in Python so that a prefetched `intervals` costs no extra query.
        for interval in sorted(self.intervals.all(), key=lambda i: (i.weekday, i.start)):
            weekly[interval.weekday].append((interval.start, interval.end))
        return weekly

    def holiday_dates(self) -> set[date]:
        if self.is_24x7:
            return set()
        return {h.date for h in self.holidays.all()}

    def business_hours(self, closed: Iterable[tuple[datetime, datetime]] = ()) -> BusinessHours:
        return BusinessHours(
            self.time_zone, self.weekly(), holidays=self.holiday_dates(), closed=closed
        )

    def open_periods(self, start: datetime, days: int = 7) -> list[tuple[datetime, datetime]]:
        """The open periods (aware, in the calendar's zone) from `start` over `days` days.

        Neighbouring periods are merged, so 24×7 reads as one period, and a period already
        under way at `start` is cut to begin at `start`.
        """
        zone = self.zone
        weekly = self.weekly()
        holidays = self.holiday_dates()
        # Work in UTC: aware datetimes sharing one tzinfo compare by wall time, which is
        # wrong across a DST change.
        start_utc = start.astimezone(UTC)
        horizon = start_utc + timedelta(days=days)
        first = start.astimezone(zone).date()
        periods: list[tuple[datetime, datetime]] = []
        for offset in range(days + 1):
            day = first + timedelta(days=offset)
            if day in holidays:
                continue
            for open_at, close_at in weekly[day.weekday()]:
                begin = datetime.combine(day, open_at, tzinfo=zone).astimezone(UTC)
                end_day = day + timedelta(days=1) if close_at == MIDNIGHT else day
                end = datetime.combine(end_day, close_at, tzinfo=zone).astimezone(UTC)
                begin = max(begin, start_utc)
                if end <= begin or begin >= horizon:
                    continue
                if periods and periods[-1][1] >= begin:
                    periods[-1] = (periods[-1][0], max(periods[-1][1], end))
                else:
                    periods.append((begin, end))
        return [(b.astimezone(zone), e.astimezone(zone)) for b, e in periods]

    def is_open_at(self, moment: datetime) -> bool:
        periods = self.open_periods(moment, days=1)
        return bool(periods) and periods[0][0] <= moment < periods[0][1]


class OpeningInterval(models.Model):
    """One open interval of a weekday, in the calendar's local wall-clock time.

    An end of 00:00 means midnight at the end of the day (so 00:00–00:00 is the whole day).
    """

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="intervals"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "weekday", "start"], name="interval_unique_start_per_day"
            ),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")) | Q(end=MIDNIGHT),
                name="interval_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0) & Q(weekday__lte=6), name="interval_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        end = "24:00" if self.end == MIDNIGHT else self.end.strftime("%H:%M")
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{end}"

    def clean(self) -> None:
        if self.end != MIDNIGHT and self.end <= self.start:
            raise ValidationError({"end": "The interval must end after it starts."})


class Holiday(models.Model):
    """A closed local date. Country holidays are copied here so that a `holidays`
    package upgrade never moves deadlines that were already computed."""

    class Source(models.TextChoices):
        COUNTRY = "country", "Country"
        CUSTOM = "custom", "Custom"

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CUSTOM)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"
