"""Periodic calendar upkeep (thin wrappers around services)."""

from celery import shared_task

from . import services
from .models import BusinessCalendar


@shared_task(soft_time_limit=300, time_limit=360)
def extend_country_holidays() -> int:
    """Keep every country calendar's holidays a few years ahead of today.

    Safe to run twice at once: the import skips dates already held and ignores
    conflicts on the (calendar, date) unique constraint.
    """
    added = 0
    for calendar_id in BusinessCalendar.objects.exclude(holiday_country="").values_list(
        "id", flat=True
    ):
        calendar = BusinessCalendar.objects.get(pk=calendar_id)
        added += services.calendar_extend_holidays(calendar=calendar)
    return added
