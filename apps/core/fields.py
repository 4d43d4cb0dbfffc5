"""Date and time inputs shared by pages and the API: one rule for what a moment may be.

A moment is typed as a wall-clock time in the user's zone (pages) or as ISO 8601 with or
without an offset (API); either way it must land between `limits.DATETIME_MIN` and
`limits.DATETIME_MAX` once in UTC. Checking after conversion would be too late:
9999-12-31T23:00 in Etc/GMT+12 is year 10000 in UTC, which neither Python nor PostgreSQL
can hold, and every page showing the stored row would fail. So the wall-clock year is
checked first (with a day of slack for the zone), and the exact range after.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers

from . import limits

# The widest a zone moves a wall-clock time (UTC-12 … UTC+14), rounded up: a wall time
# within this of the range can be converted safely and then compared exactly.
_ZONE_SLACK = timedelta(days=1)


def check_moment(value: datetime | None) -> datetime | None:
    """`value` (aware) in UTC, or ValidationError when it lies outside the sane range."""
    if value is None:
        return None
    wall = value.replace(tzinfo=None)
    lowest = limits.DATETIME_MIN.replace(tzinfo=None) - _ZONE_SLACK
    highest = limits.DATETIME_MAX.replace(tzinfo=None) + _ZONE_SLACK
    if not lowest <= wall <= highest:
        raise ValidationError(limits.datetime_range_message(), code="out_of_range")
    moment = value.astimezone(UTC)
    if not limits.in_datetime_range(moment):
        raise ValidationError(limits.datetime_range_message(), code="out_of_range")
    return moment


def check_date(value: date | None) -> date | None:
    if value is not None and not limits.DATE_MIN <= value <= limits.DATE_MAX:
        raise ValidationError(limits.date_range_message(), code="out_of_range")
    return value


# --- pages ----------------------------------------------------------------------------


class AwareDateTimeField(forms.DateTimeField):
    """A wall-clock time in the active zone (the user's), cleaned to an aware UTC moment
    between 2000 and 2100."""

    def to_python(self, value):
        try:
            moment = super().to_python(value)
        except OverflowError:
            raise ValidationError(limits.datetime_range_message(), code="out_of_range") from None
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return check_moment(moment)


class BoundedDateField(forms.DateField):
    """A date between 2000-01-01 and 2099-12-31."""

    def to_python(self, value):
        return check_date(super().to_python(value))


# --- API ------------------------------------------------------------------------------


class AwareDateTimeInput(serializers.DateTimeField):
    """ISO 8601; without an offset it is a wall-clock time in the active zone. Must lie
    between 2000 and 2100 in UTC."""

    default_error_messages = {
        "out_of_range": limits.datetime_range_message(),
        # DRF's own message when an offset moves the time past what Python holds.
        "overflow": limits.datetime_range_message(),
    }

    def to_internal_value(self, value):
        try:
            moment = super().to_internal_value(value)
        except OverflowError:
            self.fail("out_of_range")
        if isinstance(moment, datetime) and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        try:
            return check_moment(moment)
        except ValidationError:
            self.fail("out_of_range")


class BoundedDateInput(serializers.DateField):
    """A date between 2000-01-01 and 2099-12-31."""

    default_error_messages = {"out_of_range": limits.date_range_message()}

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        try:
            return check_date(day)
        except ValidationError:
            self.fail("out_of_range")
