"""Demo business calendars, one per demo team."""

from datetime import time

from . import services
from .models import BusinessCalendar

NINE_TO_FIVE = [(time(9), time(17))]

CALENDARS = {
    "support": dict(name="Support 24×7", time_zone="UTC", is_24x7=True, weekly={}),
    "engineering": dict(
        name="Engineering Berlin",
        time_zone="Europe/Berlin",
        is_24x7=False,
        weekly={day: NINE_TO_FIVE for day in range(5)},
        holiday_country="DE",
    ),
    "sales": dict(
        name="Sales New York",
        time_zone="America/New_York",
        is_24x7=False,
        weekly={day: [(time(8), time(18))] for day in range(5)},
        holiday_country="US",
    ),
    "customer-success": dict(
        name="Customer Success London",
        time_zone="Europe/London",
        is_24x7=False,
        weekly={day: [(time(9), time(17, 30))] for day in range(5)},
        holiday_country="GB",
    ),
}


def seed(*, context: dict, stdout) -> None:
    calendars = {}
    for key, spec in CALENDARS.items():
        calendar = BusinessCalendar.objects.filter(name=spec["name"]).first()
        if calendar is None:
            calendar = services.calendar_save(**spec)
        calendars[key] = calendar
    context["calendars"] = calendars
