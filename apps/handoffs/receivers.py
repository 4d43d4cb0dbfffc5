"""What the handoffs app does when a lower app changes something its clocks depend on.

The lower apps send these signals inside their services' transactions (agreements'
exception windows, calendars' hours and holidays); recomputing here keeps the deadlines
of running clocks true in that same transaction (DESIGN "One verdict"), without the lower
apps importing this one.
"""

from __future__ import annotations

from django.dispatch import receiver

from apps.agreements.signals import exception_windows_changed
from apps.calendars.signals import calendar_changed

from .clockwork import services as clockwork
from .clockwork import store


@receiver(exception_windows_changed, dispatch_uid="handoffs.recompute_for_window")
def recompute_for_window(sender, *, window, now, **kwargs) -> None:
    clockwork.clocks_recompute(
        clocks=store.live_clocks_covered_by_window(window),
        now=now,
        reason=f"Exception window {window.start:%Y-%m-%d %H:%M}–{window.end:%Y-%m-%d %H:%M} "
        "(UTC) changed.",
    )


@receiver(calendar_changed, dispatch_uid="handoffs.recompute_for_calendar")
def recompute_for_calendar(sender, *, calendar, now, **kwargs) -> None:
    clockwork.clocks_recompute(
        clocks=store.live_clocks_on_calendar(calendar.pk),
        now=now,
        reason=f"The calendar “{calendar}” changed.",
    )
