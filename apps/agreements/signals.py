"""Signals the agreements app sends so that higher apps can keep their own data in step
without this app importing them (the app graph runs one way: DESIGN.md).

`exception_windows_changed` is sent *inside* the service's transaction, after the window
row is written, whenever the time an approved window removes from clocks changes: a window
approved, ended early or cancelled. The handoffs app recomputes the deadlines of every
running or paused clock the window covers in that same transaction (DESIGN "One verdict").

    exception_windows_changed.send(sender=ExceptionWindow, window=window, now=now)
"""

from django.dispatch import Signal

exception_windows_changed = Signal()
