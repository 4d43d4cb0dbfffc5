"""A resolved handoff its requester never confirms or reopens closes after the agreement's
`confirmation_days` business days, counted in the provider team's calendar (weekends,
holidays and closed days skipped), once; the requester is reminded once, one business
day before (issue 13, item 5). The hourly upkeep (`remind_waiting`) does both."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.agreements.models import Agreement
from apps.handoffs import services
from apps.handoffs.models import EventKind, Status
from apps.handoffs.reminders import remind_unconfirmed, remind_waiting
from apps.handoffs.selectors import business_days_later
from apps.notifications.models import Channel, Kind, Notification
from tests.factories import BusinessCalendarFactory, HolidayFactory
from tests.helpers import berlin

pytestmark = pytest.mark.django_db

# Thursday 5 March 2026, 15:00 Berlin: Engineering (Mon–Fri 09–17 Berlin) resolves.
THURSDAY_15 = berlin(2026, 3, 5, 15, 0)
HOLIDAY = date(2026, 3, 9)  # the Monday after: closed in Engineering's calendar


def days(agreement, count: int) -> None:
    Agreement.objects.filter(pk=agreement.pk).update(confirmation_days=count)
    agreement.refresh_from_db()


def resolve(handoff, actor, at):
    services.handoff_acknowledge(handoff=handoff, actor=actor, now=at - timedelta(minutes=5))
    return services.handoff_resolve(handoff=handoff, actor=actor, resolution="Patched", now=at)


def reminders(handoff, user) -> list[Notification]:
    return list(
        Notification.objects.filter(
            kind=Kind.REMINDER, subject_id=handoff.pk, recipient=user, channel=Channel.IN_APP
        ).order_by("id")
    )


@pytest.fixture
def resolved(agreement, provider_team, file_handoff, provider_member):
    """Three business days to confirm; Monday 9 March is a holiday in Engineering."""
    days(agreement, 3)
    HolidayFactory(calendar=provider_team.calendar, date=HOLIDAY)
    handoff = file_handoff("P3", at=THURSDAY_15 - timedelta(hours=1))
    return resolve(handoff, provider_member, THURSDAY_15)


def test_it_closes_after_three_business_days_skipping_the_weekend_and_the_holiday(
    resolved, requester
):
    # Fri 6 (1), Sat, Sun, Mon 9 (holiday), Tue 10 (2), Wed 11 (3): Wednesday 15:00.
    closes = berlin(2026, 3, 11, 15, 0)
    for early in (
        berlin(2026, 3, 9, 15, 0),
        berlin(2026, 3, 10, 16, 0),
        closes - timedelta(seconds=1),
    ):
        assert remind_waiting(now=early).unconfirmed_closed == 0
    resolved.refresh_from_db()
    assert resolved.status == Status.RESOLVED

    assert remind_waiting(now=closes).unconfirmed_closed == 1
    assert remind_waiting(now=closes + timedelta(hours=1)).unconfirmed_closed == 0
    resolved.refresh_from_db()
    assert (resolved.status, resolved.closed_at) == (Status.CLOSED, closes)
    closed = resolved.events.get(kind=EventKind.CLOSED)
    assert closed.actor is None and "3 business days" in closed.comment
    # The service told the requester (once).
    told = Notification.objects.filter(
        kind=Kind.CLOSED, subject_id=resolved.pk, recipient=requester, channel=Channel.IN_APP
    )
    assert told.count() == 1


def test_the_requester_is_reminded_once_a_business_day_before(resolved, requester):
    # Two business days after Thursday 15:00 (Friday, then Tuesday past the holiday).
    due = berlin(2026, 3, 10, 15, 0)
    assert remind_waiting(now=berlin(2026, 3, 9, 15, 0)).confirm_reminded == 0
    assert remind_waiting(now=due - timedelta(seconds=1)).confirm_reminded == 0
    assert reminders(resolved, requester) == []
    assert remind_waiting(now=due).confirm_reminded == 1
    assert remind_waiting(now=due + timedelta(hours=1)).confirm_reminded == 0
    [note] = reminders(resolved, requester)
    assert note.title == f"#{resolved.pk} resolved: confirm it or reopen it"
    # The close, in Rita's zone (UTC), named.
    assert "closes by itself on Wed 11 Mar at 14:00 UTC" in note.body
    assert resolved.events.filter(kind=EventKind.WARNED).count() == 1
    # Closing day: closed, not reminded again.
    result = remind_waiting(now=berlin(2026, 3, 11, 15, 0))
    assert (result.confirm_reminded, result.unconfirmed_closed) == (0, 1)
    assert len(reminders(resolved, requester)) == 1


def test_a_confirmed_resolution_is_left_alone(resolved, requester):
    services.handoff_close(handoff=resolved, actor=requester, now=berlin(2026, 3, 6, 9, 0))
    result = remind_unconfirmed(now=berlin(2026, 3, 20, 9, 0))
    assert (result.confirm_reminded, result.unconfirmed_closed) == (0, 0)
    resolved.refresh_from_db()
    assert resolved.closed_at == berlin(2026, 3, 6, 9, 0)


def test_reopening_and_resolving_again_starts_a_new_count_with_a_new_reminder(
    resolved, requester, provider_member
):
    assert remind_unconfirmed(now=berlin(2026, 3, 10, 15, 0)).confirm_reminded == 1
    services.handoff_reopen(
        handoff=resolved, actor=requester, reason="Still broken", now=berlin(2026, 3, 10, 16)
    )
    # Reopened: the old deadline passes without a close.
    assert remind_unconfirmed(now=berlin(2026, 3, 11, 15, 0)).unconfirmed_closed == 0
    services.handoff_resolve(
        handoff=resolved,
        actor=provider_member,
        resolution="Really fixed",
        now=berlin(2026, 3, 12, 10),
    )
    # Thu 12 10:00 + 2 business days = Mon 16 10:00 (reminder); + 3 = Tue 17 10:00 (close).
    assert remind_unconfirmed(now=berlin(2026, 3, 16, 10, 0)).confirm_reminded == 1
    assert len(reminders(resolved, requester)) == 2
    assert remind_unconfirmed(now=berlin(2026, 3, 17, 9, 59)).unconfirmed_closed == 0
    assert remind_unconfirmed(now=berlin(2026, 3, 17, 10, 0)).unconfirmed_closed == 1


def test_one_confirmation_day_closes_on_the_next_business_day_without_a_reminder(
    agreement, file_handoff, provider_member, requester
):
    days(agreement, 1)
    friday = berlin(2026, 3, 6, 15, 0)
    handoff = resolve(file_handoff("P3", at=friday - timedelta(hours=1)), provider_member, friday)
    assert remind_unconfirmed(now=berlin(2026, 3, 9, 14, 59)).unconfirmed_closed == 0
    result = remind_unconfirmed(now=berlin(2026, 3, 9, 15, 0))
    assert (result.confirm_reminded, result.unconfirmed_closed) == (0, 1)
    # The resolution's own notice asked Rita to confirm; there was no room for another.
    assert reminders(handoff, requester) == []


def test_the_waiting_upkeep_still_runs_beside_it(resolved, file_handoff, provider_member):
    waiting = file_handoff("P3", at=THURSDAY_15)
    services.handoff_acknowledge(handoff=waiting, actor=provider_member, now=THURSDAY_15)
    services.handoff_wait_on_requester(
        handoff=waiting, actor=provider_member, question="Which browser?", now=THURSDAY_15
    )
    result = remind_waiting(now=berlin(2026, 3, 10, 15, 0))
    assert (result.reminded, result.confirm_reminded) == (2, 1)  # 24 h and 48 h, confirm


# --- the count itself ----------------------------------------------------------------------


def test_business_days_follow_the_calendar_weekends_holidays_and_24x7():
    zone = ZoneInfo("Europe/Berlin")
    office = BusinessCalendarFactory()
    HolidayFactory(calendar=office, date=HOLIDAY)
    hours = office.business_hours()
    assert business_days_later(hours, zone, THURSDAY_15, 0) == THURSDAY_15
    assert business_days_later(hours, zone, THURSDAY_15, 1) == berlin(2026, 3, 6, 15, 0)
    assert business_days_later(hours, zone, THURSDAY_15, 2) == berlin(2026, 3, 10, 15, 0)
    # Resolved on a Saturday: the first business day is Tuesday (Monday is the holiday).
    assert business_days_later(hours, zone, berlin(2026, 3, 7, 11), 1) == berlin(2026, 3, 10, 11)
    always = BusinessCalendarFactory(is_24x7=True)
    assert business_days_later(always.business_hours(), zone, THURSDAY_15, 3) == berlin(
        2026, 3, 8, 15, 0
    )


def test_the_wall_time_holds_across_a_clock_change():
    # Berlin goes to summer time on Sunday 29 March 2026: Friday 27 15:00 CET + 1 business
    # day is Monday 30 15:00 CEST, 71 hours later, not 72.
    zone = ZoneInfo("Europe/Berlin")
    hours = BusinessCalendarFactory().business_hours()
    later = business_days_later(hours, zone, berlin(2026, 3, 27, 15), 1)
    assert later == datetime.combine(date(2026, 3, 30), time(15), tzinfo=zone)
    assert later - berlin(2026, 3, 27, 15) == timedelta(hours=71)


def test_a_calendar_with_no_open_day_never_closes():
    zone = ZoneInfo("Europe/Berlin")
    hours = BusinessCalendarFactory(weekly={6: []}).business_hours()
    assert business_days_later(hours, zone, THURSDAY_15, 1) is None
