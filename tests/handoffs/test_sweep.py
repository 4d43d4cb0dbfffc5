"""The clock sweep fires each warning, breach and escalation step once, at the right time."""

import threading

import pytest
from django.db import connection, connections

from apps.agreements import services as agreement_services
from apps.handoffs import services
from apps.handoffs.clockwork.sweep import sweep_due_clocks
from apps.handoffs.models import ClockStatus, EventKind
from tests.helpers import MONDAY_10, berlin

pytestmark = pytest.mark.django_db


def clock(handoff, metric):
    return handoff.clocks.get(metric=metric)


def kinds(handoff):
    return list(handoff.events.values_list("kind", flat=True))


def test_nothing_fires_before_it_is_due(file_handoff):
    handoff = file_handoff("P3")
    result = sweep_due_clocks(now=berlin(2026, 3, 2, 15, 59))
    assert result.clocks == 0
    assert kinds(handoff) == [EventKind.CREATED]


def test_the_warning_fires_at_the_threshold_then_the_breach_at_the_target(file_handoff):
    handoff = file_handoff("P3")
    # 75 % of 8 business hours from Monday 10:00 is Monday 16:00.
    result = sweep_due_clocks(now=berlin(2026, 3, 2, 16, 0))
    assert (result.warnings, result.breaches) == (1, 0)
    ack = clock(handoff, "acknowledge")
    assert ack.fired_percent == 75
    # The target runs out at Tuesday 10:00; it is breached once business time has passed
    # beyond it, one second later.
    assert ack.due_at == berlin(2026, 3, 3, 10, 0)
    assert ack.next_step_at == ack.breach_at == berlin(2026, 3, 3, 10, 0, 1)
    assert handoff.events.filter(kind=EventKind.WARNED).count() == 1

    result = sweep_due_clocks(now=berlin(2026, 3, 3, 10, 5))
    assert result.breaches == 1
    ack = clock(handoff, "acknowledge")
    assert ack.breached_at == berlin(2026, 3, 3, 10, 0, 1)
    assert ack.status == ClockStatus.RUNNING  # still to be acknowledged, now late
    assert ack.next_step_at is None
    assert handoff.events.filter(kind=EventKind.CLOCK_BREACHED).count() == 1


def test_a_second_sweep_at_the_same_moment_fires_nothing(file_handoff):
    handoff = file_handoff("P3")
    first = sweep_due_clocks(now=berlin(2026, 3, 3, 10, 5))
    second = sweep_due_clocks(now=berlin(2026, 3, 3, 10, 5))
    # The warning fell due too, but a warning never comes with (or after) its breach.
    assert (first.warnings, first.breaches) == (0, 1)
    assert (second.clocks, second.warnings, second.breaches) == (0, 0, 0)
    assert handoff.events.filter(kind=EventKind.WARNED).count() == 0
    assert handoff.events.filter(kind=EventKind.CLOCK_BREACHED).count() == 1


def test_acknowledging_after_the_sweep_recorded_the_breach_does_not_record_it_again(
    file_handoff, provider_member
):
    handoff = file_handoff("P3")
    sweep_due_clocks(now=berlin(2026, 3, 3, 10, 5))
    services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=berlin(2026, 3, 3, 11, 0)
    )
    assert clock(handoff, "acknowledge").status == ClockStatus.BREACHED
    assert handoff.events.filter(kind=EventKind.CLOCK_BREACHED).count() == 1


def test_the_ladder_raises_the_priority_at_the_resolve_breach(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_start(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_post_action_plan(
        handoff=handoff, actor=provider_member, plan="p", now=MONDAY_10
    )
    # 80 business hours later: two weeks of Engineering's days, Monday 16 March 10:00;
    # breached once business time passed beyond it.
    result = sweep_due_clocks(now=berlin(2026, 3, 16, 10, 1))
    assert result.raised == 1
    handoff.refresh_from_db()
    assert handoff.priority == "P2"
    event = handoff.events.get(kind=EventKind.PRIORITY)
    assert event.actor is None
    assert (event.before, event.after) == ({"priority": "P3"}, {"priority": "P2"})
    # The 75 % step fell due too, but only the breach and its 100 % step fire together.
    assert handoff.events.filter(kind=EventKind.ESCALATED).count() == 1
    resolve = clock(handoff, "resolve")
    assert resolve.target_seconds == 72 * 3600  # P2's resolve target, 24×7
    assert resolve.breached_at is not None


def test_an_exception_window_approved_later_moves_the_steps(
    file_handoff, provider_member, provider_lead, provider_team
):
    handoff = file_handoff("P3")
    window = agreement_services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=berlin(2026, 3, 2, 11, 0),
        end=berlin(2026, 3, 2, 14, 0),
        reason="Data-centre move",
        affected_customers="none",
        communication_plan="Status page.",
        now=MONDAY_10,
    )
    agreement_services.exception_window_approve(window=window, actor=provider_lead, now=MONDAY_10)
    # The stored step (Monday 16:00) predates the window: the sweep re-reads the clock
    # with it and fires nothing. 3 h consumed by 16:00 (10-11, 14-16); 3 h to go: 16-17,
    # then Tuesday 09-11 → the warning moves to Tuesday 11:00.
    result = sweep_due_clocks(now=berlin(2026, 3, 2, 16, 0))
    assert result.warnings == 0
    assert clock(handoff, "acknowledge").next_step_at == berlin(2026, 3, 3, 11, 0)


def test_paused_and_stopped_clocks_are_never_swept(file_handoff, provider_member):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="?", now=MONDAY_10
    )
    result = sweep_due_clocks(now=berlin(2026, 4, 30, 10, 0))
    assert result.clocks == 0


def test_work_grows_with_what_is_due(file_handoff, django_assert_max_num_queries):
    for _ in range(5):
        file_handoff("P3")
    late = [file_handoff("P3", at=berlin(2026, 3, 2, 9, 0)) for _ in range(2)]
    # At 15:00 only the two filed at 09:00 have reached 75 % (6 h) of acknowledge.
    result = sweep_due_clocks(now=berlin(2026, 3, 2, 15, 0))
    assert result.clocks == 2
    assert {h.pk for h in late} == {pk for pk in (e.handoff_id for e in _warned())}


def _warned():
    from apps.handoffs.models import HandoffEvent

    return HandoffEvent.objects.filter(kind=EventKind.WARNED)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_two_sweeps_at_once_fire_each_step_once(file_handoff, provider_member, provider_lead):
    handoffs = [file_handoff("P3") for _ in range(30)]
    results = []

    def race(now):
        barrier = threading.Barrier(2)

        def sweep():
            try:
                barrier.wait(timeout=30)
                results.append(sweep_due_clocks(now=now, batch_size=7))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    # Two sweeps race at the warning, then two at the breach; each batch of 7 is taken
    # again and again until nothing is due.
    for now in (berlin(2026, 3, 2, 16, 0), berlin(2026, 3, 3, 10, 5)):
        for _ in range(6):
            race(now)
    assert len(results) == 24
    assert sum(r.warnings for r in results) == 30
    assert sum(r.breaches for r in results) == 30
    from apps.notifications.models import Notification

    for handoff in handoffs:
        assert handoff.events.filter(kind=EventKind.WARNED).count() == 1
        assert handoff.events.filter(kind=EventKind.CLOCK_BREACHED).count() == 1
        # Unassigned: both Engineering members hear about it, once per kind and channel
        # (the filing itself is an event notice of its own).
        in_app = Notification.objects.filter(subject_id=handoff.pk, channel="in_app").exclude(
            kind="filed"
        )
        assert sorted(in_app.values_list("kind", flat=True)) == [
            "breach",
            "breach",
            "warning",
            "warning",
        ]
        assert in_app.values("recipient").distinct().count() == 2


def test_each_sweep_is_recorded_for_the_staff_page(file_handoff, staff, client):
    from apps.handoffs.clockwork.sweep import sweep_record
    from apps.handoffs.models import SweepRun

    file_handoff("P3")
    now = berlin(2026, 3, 3, 10, 5)
    sweep_record(started_at=now, result=sweep_due_clocks(now=now))
    run = SweepRun.objects.get()
    assert (run.clocks, run.warnings, run.breaches, run.failed) == (1, 0, 1, 0)
    client.force_login(staff)
    response = client.get("/admin/handoffs/sweeprun/")
    assert response.status_code == 200
    # Recorded in 2026-03 and "now" is later: the page says the sweep looks stalled.
    assert "look stalled" in response.content.decode()


def test_a_p3_warning_outside_open_hours_waits_for_them_but_shows_in_app(
    file_handoff, provider_member
):
    from apps.notifications.models import Notification
    from apps.notifications.services import preference_set

    preference_set(user=provider_member, kind="warning", channel="email", enabled=True)
    services.handoff_assign(
        handoff=(handoff := file_handoff("P3", at=berlin(2026, 3, 2, 11, 0))),
        actor=provider_member,
        assignee=provider_member,
    )
    # 75 % of 8 h from 11:00 is 17:00, closing time; the sweep runs at 18:00.
    sweep_due_clocks(now=berlin(2026, 3, 2, 18, 0))
    email = Notification.objects.get(subject_id=handoff.pk, kind="warning", channel="email")
    in_app = Notification.objects.get(subject_id=handoff.pk, kind="warning", channel="in_app")
    assert (email.status, email.deliver_after) == ("scheduled", berlin(2026, 3, 3, 9, 0))
    assert in_app.status == "sent"


def test_a_breach_goes_at_once_even_at_night(file_handoff, provider_member):
    from apps.notifications.models import Notification

    handoff = file_handoff("P3", at=berlin(2026, 3, 2, 11, 0))
    # 8 h from Monday 11:00 is Tuesday 11:00; the sweep runs that night at 23:00.
    sweep_due_clocks(now=berlin(2026, 3, 3, 23, 0))
    email = Notification.objects.filter(
        subject_id=handoff.pk, kind="breach", channel="email"
    ).first()
    assert email is not None and email.status != "scheduled"
