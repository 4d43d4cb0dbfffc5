"""Regression tests for the clock-integrity defects (one per defect the issue numbers):
each test is named for the behaviour a user depends on, and reproduces the story that
used to fail."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from apps.agreements import services as agreement_services
from apps.agreements.models import EscalationStep, Party, PriorityTarget
from apps.calendars.models import BusinessCalendar
from apps.handoffs import services
from apps.handoffs.clockwork import arithmetic
from apps.handoffs.clockwork.sweep import sweep_due_clocks, sweep_record
from apps.handoffs.clockwork.verdict import breached_q
from apps.handoffs.filters import HandoffFilter
from apps.handoffs.models import Clock, ClockStatus, EventKind, Handoff, SweepRun
from apps.handoffs.selectors import ClockReader, windows_for
from apps.handoffs.templatetags.handoff_tags import time_left
from apps.notifications.models import Notification
from apps.reviews.selectors import breaches_to_review
from apps.teams.models import Role
from tests.factories import (
    AgreementFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)
from tests.helpers import MONDAY_10, TRIAGE, berlin

pytestmark = pytest.mark.django_db
HOUR = 3600


def clock(handoff, metric="acknowledge") -> Clock:
    return Clock.objects.get(handoff=handoff, metric=metric)


def reading(handoff, metric, now):
    handoff = Handoff.objects.for_detail().get(pk=handoff.pk)
    reader = ClockReader(now, windows_for([handoff.provider_team_id], now))
    return reader.read(handoff, handoff.clock(metric))


def in_tab(time_machine, handoff, now, **filters) -> bool:
    """Whether the queue's tab (the same FilterSet the pages and API use) lists it."""
    time_machine.move_to(now, tick=False)
    qs = Handoff.objects.filter(pk=handoff.pk)
    return HandoffFilter({"open": "true", **filters}, queryset=qs).qs.exists()


# --- 1. one ladder step stops every sweep -------------------------------------------------


def test_a_raise_with_no_higher_priority_never_stops_the_sweep(
    file_handoff, requester, provider_team, requesting_team
):
    """A version saved before raise steps were validated (P3/P4 only, raise at 100 %):
    the sweep records the breach, cannot raise, and goes on to another team's P1."""
    legacy = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team, parts=False
    )
    PriorityTarget.objects.create(
        agreement=legacy, priority="P3", acknowledge_seconds=HOUR, resolve_seconds=2 * HOUR
    )
    EscalationStep.objects.create(
        agreement=legacy,
        metric="acknowledge",
        percent=100,
        notify="provider_lead",
        raise_priority=True,
    )
    stuck = services.handoff_create(
        actor=requester, agreement=legacy, title="Onboarding", priority="P3", now=MONDAY_10
    )
    other_provider = TeamFactory(name="Data", slug="data")
    other = AgreementFactory(
        series__provider_team=other_provider, series__requesting_team=requesting_team
    )
    p1 = services.handoff_create(
        actor=requester,
        agreement=other,
        title="Outage",
        priority="P1",
        triage=TRIAGE,
        now=MONDAY_10,
    )
    now = berlin(2026, 3, 2, 12, 0)
    result = sweep_due_clocks(now=now)
    run = sweep_record(started_at=now, result=result)
    assert run.failed == 0
    assert clock(stuck).breached_at is not None
    assert Handoff.objects.get(pk=stuck.pk).priority == "P3"  # nowhere higher to go
    assert clock(p1).breached_at is not None  # the other team's P1 is not held up
    # And the clock is not first in line forever: nothing is due any more.
    assert sweep_due_clocks(now=now).clocks == 0


def test_a_failing_clock_is_recorded_skipped_and_retried_with_backoff(
    file_handoff, requester, requesting_team
):
    broken = file_handoff("P3")
    healthy_team = TeamFactory(name="Data", slug="data")
    healthy = services.handoff_create(
        actor=requester,
        agreement=AgreementFactory(
            series__provider_team=healthy_team, series__requesting_team=requesting_team
        ),
        title="Fine",
        priority="P1",
        triage=TRIAGE,
        now=MONDAY_10,
    )
    # A calendar nobody can read (a zone removed from the system's tz database, say).
    BusinessCalendar.objects.filter(pk=broken.agreement.calendar_id).update(
        time_zone="Nowhere/Atlantis"
    )
    now = berlin(2026, 3, 3, 11, 0)  # the P3's acknowledgement is overdue
    result = sweep_due_clocks(now=now)
    run = sweep_record(started_at=now, result=result)
    assert run.failed == 1
    assert run.errors[0]["handoff"] == broken.pk
    assert "Atlantis" in run.errors[0]["error"]
    assert clock(healthy).breached_at is not None
    failing = clock(broken)
    assert failing.sweep_failures == 1
    assert failing.next_step_at == now + timedelta(minutes=1)  # retried later
    assert sweep_due_clocks(now=now).errors == []  # not first in line at every sweep
    again = sweep_due_clocks(now=now + timedelta(minutes=1))
    assert len(again.errors) == 1
    failing = clock(broken)
    assert failing.sweep_failures == 2
    assert failing.next_step_at == now + timedelta(minutes=3)  # 1, 2, 4 … minutes


# --- 2. approving a window moves running deadlines ----------------------------------------


def approved_window(provider_member, provider_lead, provider_team, start, end, now):
    window = agreement_services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=start,
        end=end,
        reason="Data-centre move",
        affected_customers="none",
        communication_plan="Status page.",
        now=now,
    )
    return agreement_services.exception_window_approve(window=window, actor=provider_lead, now=now)


def test_approving_a_window_moves_running_deadlines_at_once(
    file_handoff, provider_member, provider_lead, provider_team, time_machine
):
    handoff = file_handoff("P3")  # acknowledge by Tuesday 10:00
    assert clock(handoff).due_at == berlin(2026, 3, 3, 10, 0)
    approved_window(
        provider_member,
        provider_lead,
        provider_team,
        berlin(2026, 3, 2, 11, 0),
        berlin(2026, 3, 2, 14, 0),
        MONDAY_10,
    )
    ack = clock(handoff)
    assert ack.due_at == berlin(2026, 3, 3, 13, 0)
    assert ack.warning_at == berlin(2026, 3, 3, 11, 0)
    handoff.refresh_from_db()
    assert handoff.due_at == ack.due_at  # the queue's sort key moved with it
    # Tuesday 11:30, past the old deadline: at risk, not breached — tab, badge and
    # verdict agree.
    now = berlin(2026, 3, 3, 11, 30)
    assert arithmetic.verdict(ack, now) == arithmetic.AT_RISK
    assert not in_tab(time_machine, handoff, now, breached="true")
    assert in_tab(time_machine, handoff, now, at_risk="true")
    assert reading(handoff, "acknowledge", now).rag == "amber"
    assert reading(handoff, "acknowledge", now).rag == "amber"


# --- 3. never met and breached ----------------------------------------------------------------


def test_lowering_the_priority_after_a_breach_keeps_the_breach(
    file_handoff, provider_member, requester
):
    handoff = file_handoff("P1")  # 30 min to acknowledge, 24×7
    sweep_due_clocks(now=berlin(2026, 3, 2, 10, 45))
    assert clock(handoff).breached_at is not None
    services.handoff_change_priority(
        handoff=handoff,
        actor=requester,
        priority="P3",
        reason="Only one customer",
        now=berlin(2026, 3, 2, 10, 50),
    )
    services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=berlin(2026, 3, 2, 11, 0)
    )
    ack = clock(handoff)
    assert ack.status == ClockStatus.BREACHED
    assert ack.met_at is None
    assert handoff.events.filter(kind=EventKind.CLOCK_MET).count() == 0


def test_a_window_approved_after_the_breach_withdraws_it_openly(
    file_handoff, provider_member, provider_lead, provider_team, time_machine
):
    handoff = file_handoff("P3")
    services.handoff_claim(handoff=handoff, actor=provider_member, now=MONDAY_10)
    now = berlin(2026, 3, 3, 10, 30)
    sweep_due_clocks(now=now)
    assert clock(handoff).breached_at is not None
    told = set(
        Notification.objects.filter(subject_id=handoff.pk, kind="breach").values_list(
            "recipient_id", flat=True
        )
    ) - {None}
    assert told == {provider_member.pk}
    # Monday's outage, approved on Tuesday: Monday 10-17 does not count.
    approved_window(
        provider_member,
        provider_lead,
        provider_team,
        berlin(2026, 3, 2, 10, 0),
        berlin(2026, 3, 2, 17, 0),
        now,
    )
    ack = clock(handoff)
    assert ack.breached_at is None
    assert ack.status == ClockStatus.RUNNING
    assert handoff.events.filter(kind=EventKind.CLOCK_BREACH_WITHDRAWN).count() == 1
    withdrawn = Notification.objects.filter(
        subject_id=handoff.pk, title__startswith="Breach withdrawn", channel="in_app"
    )
    assert set(withdrawn.values_list("recipient_id", flat=True)) == told
    assert not breaches_to_review(user=provider_lead).filter(pk=ack.pk).exists()
    assert not in_tab(time_machine, handoff, now, breached="true")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=now)
    assert clock(handoff).status == ClockStatus.MET


def test_a_target_ending_at_closing_time_is_not_breached_over_the_weekend(
    file_handoff, provider_member, time_machine
):
    friday_9 = berlin(2026, 3, 6, 9, 0)
    handoff = file_handoff("P3", at=friday_9)  # 8 business h: runs out Friday 17:00
    ack = clock(handoff)
    assert ack.due_at == berlin(2026, 3, 6, 17, 0)
    assert ack.breach_at == berlin(2026, 3, 9, 9, 0, 1)  # Monday, once time passes beyond
    saturday = berlin(2026, 3, 7, 12, 0)
    assert sweep_due_clocks(now=saturday).breaches == 0
    assert not in_tab(time_machine, handoff, saturday, breached="true")
    assert "due now" in time_left(reading(handoff, "acknowledge", saturday))
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=saturday)
    ack = clock(handoff)
    assert (ack.status, ack.breached_at) == (ClockStatus.MET, None)
    assert not Clock.objects.filter(breached_q(saturday), pk=ack.pk).exists()


def test_a_target_ending_at_closing_time_breaches_when_business_time_resumes(file_handoff):
    handoff = file_handoff("P3", at=berlin(2026, 3, 6, 9, 0))
    assert sweep_due_clocks(now=berlin(2026, 3, 9, 9, 0)).breaches == 0
    assert sweep_due_clocks(now=berlin(2026, 3, 9, 9, 1)).breaches == 1
    assert clock(handoff).breached_at == berlin(2026, 3, 9, 9, 0, 1)


# --- 4. after a raise, the ladder reads like a ladder ---------------------------------------


def test_after_a_raise_the_rest_of_the_ladder_is_spaced_on_the_new_target(
    file_handoff, provider_member, agreement
):
    EscalationStep.objects.create(
        agreement=agreement, metric="resolve", percent=150, notify="provider_lead"
    )
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_post_action_plan(
        handoff=handoff, actor=provider_member, plan="p", now=MONDAY_10
    )
    # P3 resolve (80 business h) breached on Monday 16 March: raised to P2 (72 h, 24×7).
    breach = berlin(2026, 3, 16, 10, 1)
    assert sweep_due_clocks(now=breach).raised == 1
    # The 150 % step is not due a minute later: it counts from where the clock stood
    # over its new target (the raise, at 10:01), half of the new target further: 36 h
    # of 24×7 time.
    assert sweep_due_clocks(now=breach + timedelta(minutes=1)).escalations == 0
    resolve = clock(handoff, "resolve")
    assert resolve.next_step_at == breach + timedelta(hours=36)
    assert sweep_due_clocks(now=resolve.next_step_at).escalations == 1


def test_simultaneous_steps_for_one_person_arrive_as_one_notification(
    file_handoff, provider_lead, provider_member
):
    handoff = file_handoff("P3")
    # The provider lead has it: the breach (to the assignee) and the 100 % step (to the
    # provider lead) are for the same person.
    services.handoff_start(handoff=handoff, actor=provider_lead, now=MONDAY_10)
    services.handoff_post_action_plan(handoff=handoff, actor=provider_lead, plan="p", now=MONDAY_10)
    sweep_due_clocks(now=berlin(2026, 3, 16, 10, 1))
    # The clock's notices (the filing and the ladder's priority raise are events of
    # their own, told apart: test_event_notifications.py).
    inbox = Notification.objects.filter(
        recipient=provider_lead,
        subject_id=handoff.pk,
        channel="in_app",
        kind__in=("warning", "breach", "escalation"),
    )
    assert inbox.count() == 1
    note = inbox.get()
    assert note.kind == "breach"
    assert "Breached: Resolve target" in note.body and "Escalation: Resolve" in note.body


# --- 5. "due" is the deadline ----------------------------------------------------------------


def test_due_shows_the_deadline_not_the_last_recalculation(
    file_handoff, provider_member, provider_lead, provider_team
):
    handoff = file_handoff("P1")  # acknowledge by 10:30, 24×7
    # A later recomputation (a window elsewhere in time) must not move the deadline.
    approved_window(
        provider_member,
        provider_lead,
        provider_team,
        berlin(2026, 3, 2, 20, 0),
        berlin(2026, 3, 2, 21, 0),
        berlin(2026, 3, 2, 12, 0),
    )
    assert clock(handoff).due_at == berlin(2026, 3, 2, 10, 30)


def test_a_paused_overdue_clock_says_so(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    # The action plan (40 business h) runs out on Monday 9 March 10:00; asked a question
    # at 11:00, its breach is recorded as it pauses.
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="?", now=berlin(2026, 3, 9, 11, 0)
    )
    plan = clock(handoff, "action_plan")
    assert plan.status == ClockStatus.PAUSED
    assert plan.breached_at == berlin(2026, 3, 9, 10, 0, 1)
    words = time_left(reading(handoff, "action_plan", berlin(2026, 3, 14, 12, 0)))
    assert words == "breached · paused, overdue by 1 business h"


# --- 6. responsibilities are enforced -------------------------------------------------------


def test_only_the_party_that_validates_the_resolution_closes_it(
    file_handoff, agreement, provider_member, requester, requester_lead
):
    agreement.resolution_validated_by = Party.REQUESTING_LEAD
    agreement.save(update_fields=["resolution_validated_by"])
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_resolve(handoff=handoff, actor=provider_member, resolution="r", now=MONDAY_10)
    for person in (provider_member, requester):
        with pytest.raises(PermissionDenied, match="requesting team's lead validates"):
            services.handoff_close(handoff=handoff, actor=person, now=MONDAY_10)
    services.handoff_close(handoff=handoff, actor=requester_lead, now=MONDAY_10)
    event = handoff.events.get(kind=EventKind.CLOSED)
    assert (event.actor, event.after["role"]) == (requester_lead, "requesting lead")


def test_only_the_party_giving_the_initial_response_acknowledges(
    file_handoff, agreement, provider_member, provider_lead
):
    agreement.initial_response_by = Party.PROVIDER_LEAD
    agreement.save(update_fields=["initial_response_by"])
    handoff = file_handoff("P3")
    assert "acknowledge" not in services.available_actions(provider_member, handoff)
    for action in (services.handoff_acknowledge, services.handoff_start):
        with pytest.raises(PermissionDenied, match="provider team's lead gives the initial"):
            action(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=MONDAY_10)
    assert handoff.events.get(kind=EventKind.ACKNOWLEDGED).after["role"] == "provider lead"


def test_the_party_sending_updates_asks_the_requester(
    file_handoff, agreement, provider_member, provider_lead, requester
):
    agreement.updates_by = Party.PROVIDER_LEAD
    agreement.save(update_fields=["updates_by"])
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    with pytest.raises(PermissionDenied, match="sends the updates"):
        services.handoff_wait_on_requester(
            handoff=handoff, actor=provider_member, question="?", now=MONDAY_10
        )
    services.handoff_comment(handoff=handoff, actor=requester, comment="Any news?", now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_lead, question="Which browser?", now=MONDAY_10
    )


# --- 8. the breach page and the timeline tell the same story -------------------------------


def test_the_breach_page_reads_time_used_live(client, file_handoff, provider_lead, time_machine):
    handoff = file_handoff("P1")
    sweep_due_clocks(now=berlin(2026, 3, 2, 10, 45))
    time_machine.move_to(berlin(2026, 3, 3, 15, 0), tick=False)
    client.force_login(provider_lead)
    response = client.get(f"/reviews/breaches/{clock(handoff).pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "0 min" not in html.split("Time used")[1][:200]
    assert "29 h" in html.split("Time used")[1][:200]


def test_a_provider_resuming_is_not_recorded_as_the_requester_replying(
    file_handoff, provider_member
):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="?", now=MONDAY_10
    )
    services.handoff_resume(handoff=handoff, actor=provider_member, reply="Found it", now=MONDAY_10)
    assert handoff.events.filter(kind=EventKind.REPLIED).count() == 0
    assert handoff.events.get(kind=EventKind.RESUMED).after["role"] == "provider team"


def test_a_member_of_both_teams_replying_is_recorded_as_a_reply(
    file_handoff, provider_member, requesting_team
):
    both = UserFactory(username="bea")
    MembershipFactory(team=requesting_team, user=both, role=Role.MEMBER)
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="?", now=MONDAY_10
    )
    services.handoff_resume(handoff=handoff, actor=both, reply="Here", now=MONDAY_10)
    assert handoff.events.filter(kind=EventKind.REPLIED).count() == 1
    assert SweepRun.objects.count() == 0


# --- 6. a ladder that names roles survives people changing jobs ----------------------------


def test_a_step_naming_a_role_reaches_whoever_holds_it_now(
    file_handoff, agreement, provider_team, provider_lead, provider_member
):
    EscalationStep.objects.create(
        agreement=agreement, metric="acknowledge", percent=100, notify="provider_director"
    )
    first, second = file_handoff("P1"), file_handoff("P1", at=berlin(2026, 3, 2, 12, 0))
    # Nobody is director yet: the step falls back to the manager, then to the leads.
    sweep_due_clocks(now=berlin(2026, 3, 2, 10, 45))
    # (The lead's escalation arrives in one notification with the breach.)
    escalated = Notification.objects.filter(
        subject_id=first.pk, channel="in_app", body__contains="Escalation: Acknowledge"
    )
    assert set(escalated.values_list("recipient", flat=True)) == {provider_lead.pk}
    director = UserFactory(username="dora")
    provider_team.director = director
    provider_team.save(update_fields=["director"])
    sweep_due_clocks(now=berlin(2026, 3, 2, 12, 45))
    escalated = Notification.objects.filter(subject_id=second.pk, channel="in_app").filter(
        title__contains="Escalation: Acknowledge"
    ) | Notification.objects.filter(
        subject_id=second.pk, channel="in_app", body__contains="Escalation: Acknowledge"
    )
    assert set(escalated.values_list("recipient", flat=True)) == {director.pk}
