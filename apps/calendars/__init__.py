"""Business calendars: BusinessCalendar with weekly open intervals and holidays (copied from
the `holidays` package per calendar), the pure business-time engine (businesstime.py:
BusinessHours.add/between), and the calendar pages. Public services: calendar_save,
calendar_reimport_country_holidays, calendar_extend_holidays, calendar_hours_edited
(services.py); changes are announced with signals.calendar_changed so that running clocks
are recomputed."""
