"""The calendar editor: one line of intervals per weekday, holidays as lines of text.

Typing "09:00-12:00, 13:00-17:00" is faster than a formset row per interval and keeps
every message on the weekday it concerns.
"""

from __future__ import annotations

import re
from datetime import date, time

from django import forms

from apps.accounts.timezones import timezone_choices
from apps.core import limits

from . import holiday_sources
from .models import MIDNIGHT, BusinessCalendar, Weekday

# re.ASCII: digits are 0-9 only (`\d` would also take "٣" and "³").
INTERVAL_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–—]\s*(\d{1,2}):(\d{2})\s*$", re.ASCII)
HOLIDAY_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*(.*)$", re.ASCII)


def _parse_time(hours: str, minutes: str, *, is_end: bool) -> time:
    h, m = int(hours), int(minutes)
    if is_end and (h, m) == (24, 0):
        return MIDNIGHT
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"{hours}:{minutes} is not a time of day")
    return time(h, m)


def parse_intervals(text: str) -> list[tuple[time, time]]:
    """'09:00-12:00, 13:00-17:00' → [(09:00, 12:00), (13:00, 17:00)]; blank = closed."""
    intervals = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        match = INTERVAL_RE.match(part)
        if not match:
            raise forms.ValidationError(
                "Write intervals as HH:MM-HH:MM, separated by commas (e.g. 09:00-12:00, "
                "13:00-17:00); “%(part)s” is not one.",
                params={"part": part.strip()},
            )
        try:
            start = _parse_time(match[1], match[2], is_end=False)
            end = _parse_time(match[3], match[4], is_end=True)
        except ValueError as exc:
            raise forms.ValidationError(str(exc).capitalize() + ".") from exc
        intervals.append((start, end))
    return intervals


def format_intervals(intervals: list[tuple[time, time]]) -> str:
    return ", ".join(
        f"{s:%H:%M}-{'24:00' if e == MIDNIGHT else e.strftime('%H:%M')}" for s, e in intervals
    )


class BusinessCalendarForm(forms.Form):
    name = forms.CharField(max_length=limits.CALENDAR_NAME_MAX)
    time_zone = forms.ChoiceField(
        choices=timezone_choices, help_text="Open hours are wall-clock times in this zone."
    )
    is_24x7 = forms.BooleanField(
        label="Open 24×7", required=False, help_text="Every hour of every day, no holidays."
    )
    holiday_country = forms.ChoiceField(
        choices=holiday_sources.country_choices, required=False, label="Public holidays of"
    )
    holiday_subdivision = forms.CharField(
        max_length=16,
        required=False,
        label="State / region",
        help_text="Optional subdivision code, e.g. BY for Bavaria or CA for California.",
    )
    custom_holidays = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-12-24 Christmas Eve"}),
        label="Custom closed days",
        help_text="One per line: YYYY-MM-DD then a name. These close the whole local day.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Declared here so that the seven weekday fields sit between the zone and holidays.
        for day in Weekday:
            self.fields[f"weekday_{day.value}"] = forms.CharField(
                label=day.label,
                required=False,
                widget=forms.TextInput(attrs={"placeholder": "closed"}),
            )
        order = ["name", "time_zone", "is_24x7"] + [f"weekday_{d.value}" for d in Weekday]
        self.order_fields(order)

    @classmethod
    def initial_for(cls, calendar: BusinessCalendar) -> dict:
        initial = {
            "name": calendar.name,
            "time_zone": calendar.time_zone,
            "is_24x7": calendar.is_24x7,
            "holiday_country": calendar.holiday_country,
            "holiday_subdivision": calendar.holiday_subdivision,
            "custom_holidays": "\n".join(
                f"{h.date:%Y-%m-%d} {h.name}"
                for h in calendar.holidays.all()
                if h.source == "custom"
            ),
        }
        weekly = {} if calendar.is_24x7 else calendar.weekly()
        for day in Weekday:
            initial[f"weekday_{day.value}"] = format_intervals(weekly.get(day.value, []))
        return initial

    def clean(self):
        cleaned = super().clean()
        weekly: dict[int, list[tuple[time, time]]] = {}
        for day in Weekday:
            key = f"weekday_{day.value}"
            try:
                weekly[day.value] = parse_intervals(cleaned.get(key, ""))
            except forms.ValidationError as exc:
                self.add_error(key, exc)
        if not cleaned.get("is_24x7") and not any(weekly.values()) and not self.errors:
            self.add_error("weekday_0", "Give at least one open interval, or tick “Open 24×7”.")
        cleaned["weekly"] = weekly
        holidays: dict[date, str] = {}
        lines = (cleaned.get("custom_holidays") or "").splitlines()
        if len([line for line in lines if line.strip()]) > limits.CUSTOM_HOLIDAYS_MAX:
            self.add_error(
                "custom_holidays", f"At most {limits.CUSTOM_HOLIDAYS_MAX} custom closed days."
            )
            lines = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            match = HOLIDAY_RE.match(line)
            try:
                day = date.fromisoformat(match[1]) if match else None
            except ValueError:
                day = None
            if day is None:
                self.add_error(
                    "custom_holidays",
                    f"Line {number}: “{line.strip()[:40]}” should start with a date as YYYY-MM-DD.",
                )
                continue
            name = match[2].strip() or "Closed"
            if not limits.DATE_MIN <= day <= limits.DATE_MAX:
                self.add_error("custom_holidays", f"Line {number}: {limits.date_range_message()}")
            elif len(name) > limits.HOLIDAY_NAME_MAX:
                self.add_error(
                    "custom_holidays",
                    f"Line {number}: a holiday's name has at most {limits.HOLIDAY_NAME_MAX} "
                    f"characters (this one has {len(name):,}).",
                )
            else:
                holidays[day] = name
        cleaned["holidays"] = holidays
        return cleaned
