"""Waiting on the requester: reminders at 24 h and 48 h, auto-close after the agreement's
days, each once; and the daily digest per team."""

from datetime import timedelta

import pytest

from apps.handoffs import services
from apps.handoffs.models import ClockStatus, Status
from apps.handoffs.reminders import remind_waiting, send_digests
from apps.notifications.models import Notification
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="Which browser?", now=MONDAY_10
    )
    return handoff


def reminders(handoff):
    return Notification.objects.filter(
        kind="reminder", subject_id=handoff.pk, channel="in_app"
    ).order_by("created_at")


def test_reminders_at_24_and_48_hours_each_once(waiting, requester):
    assert remind_waiting(now=MONDAY_10 + timedelta(hours=23)).reminded == 0
    assert remind_waiting(now=MONDAY_10 + timedelta(hours=25)).reminded == 1
    assert remind_waiting(now=MONDAY_10 + timedelta(hours=26)).reminded == 0
    assert remind_waiting(now=MONDAY_10 + timedelta(hours=49)).reminded == 1
    assert remind_waiting(now=MONDAY_10 + timedelta(hours=60)).reminded == 0
    assert [n.recipient for n in reminders(waiting)] == [requester, requester]
    assert "(24 h)" in reminders(waiting)[0].title


def test_a_reply_stops_the_reminders(waiting, requester):
    services.handoff_resume(
        handoff=waiting, actor=requester, reply="Firefox", now=MONDAY_10 + timedelta(hours=2)
    )
    assert remind_waiting(now=MONDAY_10 + timedelta(hours=30)).reminded == 0


def test_silence_past_the_agreement_limit_closes_the_handoff_once(waiting, agreement):
    assert agreement.waiting_auto_close_days == 7
    assert remind_waiting(now=MONDAY_10 + timedelta(days=6, hours=23)).closed == 0
    assert remind_waiting(now=MONDAY_10 + timedelta(days=7)).closed == 1
    assert remind_waiting(now=MONDAY_10 + timedelta(days=7, hours=1)).closed == 0
    waiting.refresh_from_db()
    assert waiting.status == Status.CLOSED
    assert {c.status for c in waiting.clocks.exclude(metric="acknowledge")} == {
        ClockStatus.CANCELLED
    }
    closed = waiting.events.get(kind="closed")
    assert closed.actor is None and "no reply" in closed.comment


def test_people_cannot_auto_close(waiting, requester):
    assert "auto_close" not in services.available_actions(requester, waiting)


def test_the_digest_goes_once_a_day_to_teams_with_work_at_risk(file_handoff, provider_member):
    file_handoff("P3")
    # Monday 17:00: 7 of 8 acknowledge hours used, past the 75 % warning.
    now = MONDAY_10 + timedelta(hours=7)
    assert send_digests(now=now) == 1
    assert send_digests(now=now + timedelta(hours=1)) == 0
    digest = Notification.objects.get(kind="digest", recipient=provider_member, channel="in_app")
    assert digest.title == "Engineering: 0 breached, 1 at risk"
    assert "Checkout crashes" in digest.body
