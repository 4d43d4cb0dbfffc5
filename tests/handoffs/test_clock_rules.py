"""Every clock rule, with `now` injected (DESIGN: Clock; issue: SLA clocks)."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.agreements import services as agreement_services
from apps.calendars.models import Holiday
from apps.handoffs import services
from apps.handoffs.models import ClockStatus, EventKind
from tests.helpers import MONDAY_10, berlin

pytestmark = pytest.mark.django_db
HOUR = 3600


def clocks(handoff):
    return {c.metric: c for c in handoff.clocks.all()}


def test_p3_clocks_run_on_business_hours_and_store_their_deadlines(file_handoff):
    handoff = file_handoff("P3")
    c = clocks(handoff)
    # 8 business hours from Monday 10:00: 7 on Monday, 1 on Tuesday → Tuesday 10:00.
    assert c["acknowledge"].due_at == berlin(2026, 3, 3, 10, 0)
    # The warning (75 % = 6 h) comes first: Monday 16:00.
    assert c["acknowledge"].next_step_at == berlin(2026, 3, 2, 16, 0)
    # 40 business hours = five working days: the next Monday 10:00.
    assert c["action_plan"].due_at == berlin(2026, 3, 9, 10, 0)
    assert handoff.due_at == c["acknowledge"].due_at
    assert {clock.status for clock in c.values()} == {ClockStatus.RUNNING}


def test_p1_runs_around_the_clock(file_handoff):
    # Saturday 23:50: a P1 target is not stopped by the weekend.
    handoff = file_handoff("P1", at=berlin(2026, 3, 7, 23, 50))
    ack = clocks(handoff)["acknowledge"]
    assert ack.due_at == berlin(2026, 3, 8, 0, 20)
    # Warning at 75 % of 30 min = 22 min 30 s.
    assert ack.next_step_at == berlin(2026, 3, 8, 0, 12, 30)


def test_best_effort_metrics_are_measured_but_never_due(file_handoff, provider_member):
    handoff = file_handoff("P4")
    resolve = clocks(handoff)["resolve"]
    assert resolve.target_seconds is None
    assert (resolve.due_at, resolve.next_step_at) == (None, None)


def test_acknowledging_in_time_meets_the_target(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=berlin(2026, 3, 2, 12, 30)
    )
    ack = clocks(handoff)["acknowledge"]
    assert ack.status == ClockStatus.MET
    assert ack.consumed_seconds == int(2.5 * HOUR)
    assert ack.met_at == berlin(2026, 3, 2, 12, 30)
    assert (ack.due_at, ack.next_step_at) == (None, None)
    handoff.refresh_from_db()
    assert handoff.assignee == provider_member
    # The queue now sorts by the next running clock: the action plan.
    assert handoff.due_at == clocks(handoff)["action_plan"].due_at


def test_acknowledging_late_breaches_at_the_moment_the_target_ran_out(
    file_handoff, provider_member
):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=berlin(2026, 3, 3, 15, 0)
    )
    ack = clocks(handoff)["acknowledge"]
    assert ack.status == ClockStatus.BREACHED
    assert ack.consumed_seconds == 13 * HOUR
    # The target ran out at 10:00; the breach is the first moment beyond it.
    assert ack.breached_at == berlin(2026, 3, 3, 10, 0, 1)
    assert handoff.events.filter(kind=EventKind.CLOCK_BREACHED).count() == 1


def test_nights_weekends_and_holidays_do_not_count(file_handoff, provider_member, agreement):
    Holiday.objects.create(calendar=agreement.calendar, date="2026-03-03", name="Company day")
    handoff = file_handoff("P3", at=berlin(2026, 3, 2, 16, 0))
    # 1 h on Monday, Tuesday closed, 7 h on Wednesday → Wednesday 16:00.
    assert clocks(handoff)["acknowledge"].due_at == berlin(2026, 3, 4, 16, 0)


def test_approved_exception_windows_stop_the_clock(
    file_handoff, provider_member, provider_lead, provider_team
):
    window = agreement_services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=berlin(2026, 3, 2, 12, 0),
        end=berlin(2026, 3, 2, 14, 0),
        reason="Data-centre move",
        affected_customers="None: internal work only.",
        communication_plan="The lead tells Support at stand-up.",
        now=berlin(2026, 3, 2, 9, 0),
    )
    agreement_services.exception_window_approve(
        window=window, actor=provider_lead, now=berlin(2026, 3, 2, 9, 0)
    )
    handoff = file_handoff("P3")
    # Two hours of Monday are excluded: due Tuesday 12:00 instead of 10:00.
    assert clocks(handoff)["acknowledge"].due_at == berlin(2026, 3, 3, 12, 0)


def test_waiting_on_the_requester_pauses_only_pausable_metrics(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=berlin(2026, 3, 2, 11))
    services.handoff_wait_on_requester(
        handoff=handoff,
        actor=provider_member,
        question="Which browser?",
        now=berlin(2026, 3, 2, 13, 0),
    )
    c = clocks(handoff)
    assert c["acknowledge"].status == ClockStatus.MET
    for metric in ("action_plan", "resolve"):
        assert c[metric].status == ClockStatus.PAUSED
        assert c[metric].consumed_seconds == 3 * HOUR
        assert (c[metric].due_at, c[metric].next_step_at) == (None, None)
    handoff.refresh_from_db()
    assert handoff.due_at is None


def test_resuming_recomputes_from_what_was_consumed(file_handoff, provider_member, requester):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=berlin(2026, 3, 2, 11))
    services.handoff_wait_on_requester(
        handoff=handoff,
        actor=provider_member,
        question="Which browser?",
        now=berlin(2026, 3, 2, 13, 0),
    )
    services.handoff_resume(
        handoff=handoff, actor=requester, reply="Firefox", now=berlin(2026, 3, 4, 9, 0)
    )
    plan = clocks(handoff)["action_plan"]
    assert plan.status == ClockStatus.RUNNING
    # 3 h consumed before the pause, 37 h to go from Wednesday 09:00: 8+8+8 (Wed-Fri),
    # 8 (Mon), 5 (Tue) → Tuesday 10 March 14:00.
    assert plan.due_at == berlin(2026, 3, 10, 14, 0)
    assert plan.paused_seconds == int(timedelta(days=1, hours=20).total_seconds())
    assert len(plan.pauses) == 1 and plan.pauses[0][1] is not None


def test_pause_rules_come_from_the_target(file_handoff, provider_member, agreement):
    target = agreement.targets.get(priority="P3")
    target.pause_resolve = False
    target.save()
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="?", now=berlin(2026, 3, 2, 11)
    )
    c = clocks(handoff)
    assert c["action_plan"].status == ClockStatus.PAUSED
    assert c["resolve"].status == ClockStatus.RUNNING


def test_posting_the_action_plan_stops_its_clock(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_post_action_plan(
        handoff=handoff,
        actor=provider_member,
        plan="Patch on Wednesday",
        now=berlin(2026, 3, 2, 15, 0),
    )
    c = clocks(handoff)
    assert c["action_plan"].status == ClockStatus.MET
    assert c["action_plan"].consumed_seconds == 5 * HOUR
    assert c["resolve"].status == ClockStatus.RUNNING
    handoff.refresh_from_db()
    assert handoff.status == "in_progress"


def test_a_priority_change_keeps_consumed_time_and_applies_the_new_target(
    file_handoff, provider_member
):
    handoff = file_handoff("P3")
    services.handoff_change_priority(
        handoff=handoff,
        actor=provider_member,
        priority="P2",
        reason="Enterprise customer blocked",
        now=berlin(2026, 3, 2, 12, 0),
    )
    ack = clocks(handoff)["acknowledge"]
    assert ack.target_seconds == 2 * HOUR
    assert ack.consumed_seconds == 2 * HOUR
    assert ack.around_the_clock is True
    # Already at 100 %: due now, and the sweep will find it.
    assert ack.due_at == berlin(2026, 3, 2, 12, 0)
    event = handoff.events.get(kind=EventKind.PRIORITY)
    assert (event.before, event.after, event.comment) == (
        {"priority": "P3"},
        {"priority": "P2"},
        "Enterprise customer blocked",
    )


def test_reopening_resumes_the_resolve_clock_and_counts(file_handoff, provider_member, requester):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_resolve(
        handoff=handoff,
        actor=provider_member,
        resolution="Fixed in 4.2",
        now=berlin(2026, 3, 2, 14, 0),
    )
    assert clocks(handoff)["resolve"].status == ClockStatus.MET
    services.handoff_reopen(
        handoff=handoff, actor=requester, reason="Still crashes", now=berlin(2026, 3, 3, 9, 0)
    )
    resolve = clocks(handoff)["resolve"]
    handoff.refresh_from_db()
    assert (handoff.status, handoff.reopen_count) == ("in_progress", 1)
    assert resolve.status == ClockStatus.RUNNING
    assert resolve.consumed_seconds == 4 * HOUR
    assert resolve.met_at is None
    # 76 business hours to go from Tuesday 09:00: nine full days, then 4 h → Mon 16th 13:00.
    assert resolve.due_at == berlin(2026, 3, 16, 13, 0)


def test_cancelling_stops_clocks_without_a_verdict(file_handoff, requester):
    handoff = file_handoff("P3")
    services.handoff_cancel(
        handoff=handoff, actor=requester, reason="Duplicate", now=berlin(2026, 3, 2, 11)
    )
    assert {c.status for c in clocks(handoff).values()} == {ClockStatus.CANCELLED}
    handoff.refresh_from_db()
    assert handoff.due_at is None


def test_clocks_store_aware_utc(file_handoff):
    handoff = file_handoff("P3")
    ack = clocks(handoff)["acknowledge"]
    assert ack.due_at.utcoffset() == timedelta(0)
    assert ack.due_at == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def test_time_in_the_requesters_court_adds_up_every_wait(file_handoff, provider_member, requester):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=berlin(2026, 3, 2, 11))
    # First wait: Monday 13:00 → Wednesday 09:00 (44 wall-clock hours, resumed by a reply).
    services.handoff_wait_on_requester(
        handoff=handoff,
        actor=provider_member,
        question="Which browser?",
        now=berlin(2026, 3, 2, 13, 0),
    )
    services.handoff_resume(
        handoff=handoff, actor=requester, reply="Firefox", now=berlin(2026, 3, 4, 9, 0)
    )
    # Second wait: Wednesday 10:00 → 10:30, ended by resolving.
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="Logs?", now=berlin(2026, 3, 4, 10, 0)
    )
    services.handoff_resolve(
        handoff=handoff,
        actor=provider_member,
        resolution="Fixed in 4.2",
        now=berlin(2026, 3, 4, 10, 30),
    )
    handoff.refresh_from_db()
    assert handoff.waiting_seconds == 44 * HOUR + 30 * 60
    assert handoff.waiting_since is None
