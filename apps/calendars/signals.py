"""Signals the calendars app sends so that higher apps can keep their own data in step
without this app importing them (the app graph runs one way: DESIGN.md).

`calendar_changed` is sent *inside* the service's transaction, after the calendar's hours
or holidays were written: the handoffs app recomputes the deadlines of every running or
paused clock on that calendar in the same transaction (DESIGN "One verdict").

    calendar_changed.send(sender=BusinessCalendar, calendar=calendar, now=now)
"""

from django.dispatch import Signal

calendar_changed = Signal()
