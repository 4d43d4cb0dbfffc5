"""The one verdict in SQL: the twin of `arithmetic.verdict` for querysets.

A clock is breached when its record says so (status breached, or a breach recorded on a
clock still running or paused) or when it is running past its `breach_at`; at risk when
it is running, past its `warning_at`, and not breached. Met clocks never carry a breach
(the services record an overdue clock's breach before they stop it), so "met" and
"breached" never overlap. The queue's tabs, the dashboard, the digest and the breach
reviews all filter with these; the state-machine test checks them against `verdict` after
every step.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q

from ..models import Clock, ClockStatus

LIVE = (ClockStatus.RUNNING, ClockStatus.PAUSED)


def recorded_breach_q(prefix: str = "") -> Q:
    """Clocks whose breach is on record (what breach reviews start from)."""
    return Q(**{f"{prefix}status": ClockStatus.BREACHED}) | Q(
        **{f"{prefix}status__in": LIVE, f"{prefix}breached_at__isnull": False}
    )


def breached_q(now: datetime, prefix: str = "") -> Q:
    """Clocks breached at `now`: on record, or running beyond their target."""
    return recorded_breach_q(prefix) | Q(
        **{f"{prefix}status": ClockStatus.RUNNING, f"{prefix}breach_at__lte": now}
    )


def at_risk_q(now: datetime, prefix: str = "") -> Q:
    """Running clocks past their warning moment and not breached at `now`."""
    return Q(
        **{
            f"{prefix}status": ClockStatus.RUNNING,
            f"{prefix}warning_at__lte": now,
            f"{prefix}breach_at__gt": now,
            f"{prefix}breached_at__isnull": True,
        }
    )


def breached_clocks(now: datetime):
    """A handoff's breached clocks at `now` (for `Exists`)."""
    return Clock.objects.filter(handoff=OuterRef("pk")).filter(breached_q(now))


def at_risk_clocks(now: datetime):
    """A handoff's at-risk clocks at `now` (for `Exists`)."""
    return Clock.objects.filter(handoff=OuterRef("pk")).filter(at_risk_q(now))


def handoff_breached_q(now: datetime) -> Q:
    """Handoffs with a breached clock at `now`."""
    return Q(Exists(breached_clocks(now)))


def handoff_at_risk_q(now: datetime) -> Q:
    """Handoffs with a clock at risk and none breached at `now` (a handoff is in one tab
    of the two, never both)."""
    return Q(Exists(at_risk_clocks(now))) & ~Q(Exists(breached_clocks(now)))
