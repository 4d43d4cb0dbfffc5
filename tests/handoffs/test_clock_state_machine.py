"""The clock, proved by a state machine: random agreements (tiers, 24×7 or calendars with
split shifts in DST zones, holidays, ladders with raises), random handoffs and random
sequences of what people do to them, interleaved with sweeps at random times. After every
step the invariants users rely on must hold:

- the sweep never fails;
- no clock is both met and breached;
- every live clock's deadlines equal a fresh recomputation from its history;
- every surface (badge, queue tabs, dashboard counts, report verdicts, breach list)
  agrees with the one verdict;
- every notification key is unique, each ladder step fired at most once per clock, a
  breach is recorded once (or withdrawn openly), and no warning follows its breach.

CI runs a fixed seed with a bounded number of examples; `make test-long` (or
CLOCK_MACHINE_EXAMPLES=500) runs longer.
"""

from __future__ import annotations

import contextlib
import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from apps.agreements import services as agreement_services
from apps.agreements.models import EscalationStep, PriorityTarget
from apps.calendars import services as calendar_services
from apps.calendars.models import Holiday
from apps.core.exceptions import Conflict
from apps.dashboard.views import dashboard_context
from apps.handoffs import services
from apps.handoffs.clockwork import arithmetic
from apps.handoffs.clockwork.store import ClockContext
from apps.handoffs.clockwork.sweep import sweep_due_clocks
from apps.handoffs.clockwork.verdict import (
    at_risk_q,
    breached_q,
    handoff_at_risk_q,
    handoff_breached_q,
    recorded_breach_q,
)
from apps.handoffs.models import Clock, ClockStatus, EventKind, Handoff, HandoffEvent
from apps.handoffs.selectors import ClockReader, windows_for
from apps.notifications.models import Notification
from apps.reviews.selectors import breaches_to_review
from apps.teams.models import Role
from tests.factories import (
    AgreementFactory,
    AgreementSeriesFactory,
    BusinessCalendarFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)

EXAMPLES = int(os.environ.get("CLOCK_MACHINE_EXAMPLES", "12"))
STEPS = int(os.environ.get("CLOCK_MACHINE_STEPS", "25"))
UTC = ZoneInfo("UTC")
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
# Awkward starting days: DST changes in both hemispheres, month and year ends, 29 Feb.
START_DAYS = [
    date(2026, 3, 27),  # the Friday before Europe's spring change
    date(2026, 3, 6),  # the Friday before America's
    date(2026, 10, 23),  # the Friday before Europe's autumn change
    date(2026, 10, 30),  # America's
    date(2026, 12, 30),
    date(2028, 2, 28),
    date(2026, 11, 30),
]
SHIFTS = [
    [(time(9), time(17))],
    [(time(9), time(12)), (time(13), time(17))],
    [(time(0), time(0))],  # all day
    [(time(22), time(0))],  # a late shift up to midnight
]
HOUR = 3600
PRIORITIES = ["P1", "P2", "P3", "P4"]
OK_REFUSALS = (Conflict, ValidationError, PermissionDenied)

targets = st.one_of(st.none(), st.integers(min_value=15 * 60, max_value=30 * HOUR))
tiers = st.fixed_dictionaries(
    {
        "acknowledge_seconds": st.integers(min_value=10 * 60, max_value=16 * HOUR),
        "action_plan_seconds": targets,
        "resolve_seconds": targets,
        "around_the_clock": st.booleans(),
    }
)
steps = st.lists(
    st.fixed_dictionaries(
        {
            "metric": st.sampled_from(["acknowledge", "action_plan", "resolve"]),
            "percent": st.sampled_from([50, 75, 90, 100, 120, 150, 200]),
            "notify": st.sampled_from(
                ["assignee", "provider_team", "provider_lead", "requesting_lead", "both_leads"]
            ),
            "raise_priority": st.booleans(),
        }
    ),
    max_size=5,
    unique_by=lambda s: (s["metric"], s["percent"]),
)


def scaled(seconds, scale):
    return None if seconds is None else seconds * scale


class ClockMachine(RuleBasedStateMachine):
    handoffs = Bundle("handoffs")
    windows = Bundle("windows")

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the world ------------------------------------------------------------------------

    @initialize(
        zone=st.sampled_from(ZONES),
        around_the_clock=st.booleans(),
        shifts=st.lists(st.sampled_from(SHIFTS), min_size=7, max_size=7),
        open_days=st.sets(st.integers(0, 6), min_size=1),
        priorities=st.sets(st.sampled_from(PRIORITIES), min_size=1),
        tier=tiers,
        ladder=steps,
        warning=st.integers(min_value=50, max_value=95),
        start_day=st.sampled_from(START_DAYS),
        start_minute=st.integers(0, 24 * 60 - 1),
        holiday_offsets=st.sets(st.integers(0, 20), max_size=3),
    )
    def world(
        self,
        zone,
        around_the_clock,
        shifts,
        open_days,
        priorities,
        tier,
        ladder,
        warning,
        start_day,
        start_minute,
        holiday_offsets,
    ):
        weekly = {day: shifts[day] for day in sorted(open_days)}
        calendar = BusinessCalendarFactory(time_zone=zone, is_24x7=False, weekly=weekly)
        self.weekly = weekly
        for offset in holiday_offsets:
            Holiday.objects.create(
                calendar=calendar, date=start_day + timedelta(days=offset), name="Closed"
            )
        provider = TeamFactory(name="Engineering", slug="engineering", calendar=calendar)
        requesting = TeamFactory(name="Support", slug="support")
        self.lead = MembershipFactory(team=provider, user=UserFactory(), role=Role.LEAD).user
        self.member = MembershipFactory(team=provider, user=UserFactory()).user
        self.requester = MembershipFactory(team=requesting, user=UserFactory()).user
        MembershipFactory(team=requesting, user=UserFactory(), role=Role.LEAD)
        self.provider = provider
        self.calendar = calendar
        self.agreement = AgreementFactory(
            series=AgreementSeriesFactory(provider_team=provider, requesting_team=requesting),
            warning_threshold=warning,
            parts=False,
        )
        for index, priority in enumerate(sorted(priorities)):
            # Higher priorities get shorter targets; some run 24×7.
            scale = 1 + index
            PriorityTarget.objects.create(
                agreement=self.agreement,
                priority=priority,
                acknowledge_seconds=tier["acknowledge_seconds"] * scale,
                action_plan_seconds=scaled(tier["action_plan_seconds"], scale),
                resolve_seconds=scaled(tier["resolve_seconds"], scale),
                around_the_clock=around_the_clock and index % 2 == 0,
            )
        self.priorities = sorted(priorities)
        # Ladders written straight to the database: old versions may hold raise steps the
        # editor refuses today (no higher priority); the sweep must survive them.
        for step in ladder:
            EscalationStep.objects.create(agreement=self.agreement, **step)
        local = datetime.combine(start_day, time(0), tzinfo=ZoneInfo(zone))
        self.now = (local + timedelta(minutes=start_minute)).astimezone(UTC).replace(second=0)
        self.sweeps = 0

    # --- time and the sweep -----------------------------------------------------------------

    @rule(minutes=st.integers(min_value=0, max_value=3 * 24 * 60), sweep=st.booleans())
    def time_passes(self, minutes, sweep):
        self.now += timedelta(minutes=minutes)
        if sweep:
            self.sweep()

    @rule()
    def sweep(self):
        for _ in range(10):
            result = sweep_due_clocks(now=self.now)
            assert result.errors == [], result.errors
            if not result.more:
                break
        self.sweeps += 1

    # --- people ---------------------------------------------------------------------------

    @rule(target=handoffs, priority=st.integers(0, 3))
    def file(self, priority):
        return services.handoff_create(
            actor=self.requester,
            agreement=self.agreement,
            title="Checkout crashes",
            priority=self.priorities[priority % len(self.priorities)],
            now=self.now,
        )

    def _try(self, action, **kwargs):
        with contextlib.suppress(*OK_REFUSALS):
            action(now=self.now, **kwargs)

    @rule(handoff=handoffs)
    def acknowledge(self, handoff):
        self._try(services.handoff_acknowledge, handoff=handoff, actor=self.member)

    @rule(handoff=handoffs)
    def start(self, handoff):
        self._try(services.handoff_start, handoff=handoff, actor=self.member)

    @rule(handoff=handoffs)
    def post_plan(self, handoff):
        self._try(services.handoff_post_action_plan, handoff=handoff, actor=self.member, plan="p")

    @rule(handoff=handoffs)
    def ask(self, handoff):
        self._try(
            services.handoff_wait_on_requester, handoff=handoff, actor=self.member, question="?"
        )

    @rule(handoff=handoffs, by_requester=st.booleans())
    def resume(self, handoff, by_requester):
        actor = self.requester if by_requester else self.member
        self._try(services.handoff_resume, handoff=handoff, actor=actor, reply="r")

    @rule(handoff=handoffs, priority=st.integers(0, 3))
    def change_priority(self, handoff, priority):
        self._try(
            services.handoff_change_priority,
            handoff=handoff,
            actor=self.requester,
            priority=self.priorities[priority % len(self.priorities)],
            reason="r",
        )

    @rule(handoff=handoffs)
    def resolve(self, handoff):
        self._try(services.handoff_resolve, handoff=handoff, actor=self.member, resolution="r")

    @rule(handoff=handoffs)
    def reopen(self, handoff):
        self._try(services.handoff_reopen, handoff=handoff, actor=self.requester, reason="r")

    @rule(handoff=handoffs)
    def close(self, handoff):
        self._try(services.handoff_close, handoff=handoff, actor=self.requester)

    @rule(handoff=handoffs)
    def cancel(self, handoff):
        self._try(services.handoff_cancel, handoff=handoff, actor=self.requester, reason="r")

    # --- what moves deadlines from outside --------------------------------------------------

    @rule(
        target=windows,
        back=st.integers(min_value=0, max_value=6 * 24 * 60),
        length=st.integers(min_value=30, max_value=13 * 24 * 60),
        whole_team=st.booleans(),
    )
    def window(self, back, length, whole_team):
        start = self.now - timedelta(minutes=back)
        try:
            window = agreement_services.exception_window_request(
                actor=self.member,
                provider_team=self.provider,
                series=None if whole_team else self.agreement.series,
                start=start,
                end=start + timedelta(minutes=length),
                reason="Outage",
                affected_customers="none",
                communication_plan="Status page.",
                now=self.now,
            )
            return agreement_services.exception_window_approve(
                window=window, actor=self.lead, now=self.now
            )
        except OK_REFUSALS:
            return None

    @rule(window=windows)
    def end_window(self, window):
        if window is not None:
            self._try(agreement_services.exception_window_end, window=window, actor=self.lead)

    @rule(offset=st.integers(min_value=-3, max_value=10))
    def holiday(self, offset):
        local_today = self.now.astimezone(ZoneInfo(self.calendar.time_zone)).date()
        holidays = {h.date: h.name for h in self.calendar.holidays.all()}
        holidays[local_today + timedelta(days=offset)] = "Closed"
        calendar_services.calendar_save(
            calendar=self.calendar,
            name=self.calendar.name,
            time_zone=self.calendar.time_zone,
            is_24x7=False,
            weekly=self.weekly,
            custom_holidays=holidays,
            now=self.now,
        )

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def never_met_and_breached(self):
        assert not Clock.objects.filter(status=ClockStatus.MET, breached_at__isnull=False).exists()
        for clock in Clock.objects.filter(status=ClockStatus.MET, target_seconds__isnull=False):
            assert clock.consumed_seconds <= clock.target_seconds, clock.pk

    @invariant()
    def deadlines_equal_a_fresh_recomputation(self):
        if not hasattr(self, "agreement"):
            return
        ctx = ClockContext.load(self.agreement.pk)
        for clock in Clock.objects.filter(status__in=[ClockStatus.RUNNING, ClockStatus.PAUSED]):
            fresh = Clock.objects.get(pk=clock.pk)
            ctx.recount(fresh)
            ctx.refresh(fresh)
            for field in ("consumed_seconds", "segment_started_at", "due_at", "warning_at"):
                assert getattr(fresh, field) == getattr(clock, field), (field, clock.pk)
            assert fresh.breach_at == clock.breach_at, ("breach_at", clock.pk)
            assert fresh.next_step_at == clock.next_step_at, ("next_step_at", clock.pk)
        for handoff in Handoff.objects.prefetch_related("clocks"):
            running = [c.due_at for c in handoff.clocks.all() if c.status == "running" and c.due_at]
            assert handoff.due_at == (min(running) if running else None), handoff.pk

    @invariant()
    def every_surface_tells_the_verdict(self):
        if not hasattr(self, "agreement"):
            return
        now = self.now
        clocks = list(Clock.objects.all())
        verdicts = {c.pk: arithmetic.verdict(c, now) for c in clocks}
        breached = set(Clock.objects.filter(breached_q(now)).values_list("pk", flat=True))
        at_risk = set(Clock.objects.filter(at_risk_q(now)).values_list("pk", flat=True))
        assert breached == {pk for pk, v in verdicts.items() if v == arithmetic.BREACHED}
        assert at_risk == {pk for pk, v in verdicts.items() if v == arithmetic.AT_RISK}
        # The badge.
        reader = ClockReader(now, windows_for([self.provider.pk], now))
        for handoff in Handoff.objects.for_detail():
            for clock in handoff.clocks.all():
                reading = reader.read(handoff, clock)
                assert reading.verdict == verdicts[clock.pk]
                if clock.status == ClockStatus.RUNNING and reading.remaining is not None:
                    over = reading.remaining < 0
                    assert over == (verdicts[clock.pk] == arithmetic.BREACHED) or (
                        clock.breached_at is not None
                    ), (clock.pk, reading.remaining, verdicts[clock.pk])
        # The queue's tabs and the dashboard's counts.
        open_work = Handoff.objects.open()
        tab_breached = set(open_work.filter(handoff_breached_q(now)).values_list("pk", flat=True))
        tab_risk = set(open_work.filter(handoff_at_risk_q(now)).values_list("pk", flat=True))
        expected_breached = {
            c.handoff_id for c in clocks if verdicts[c.pk] == arithmetic.BREACHED
        } & set(open_work.values_list("pk", flat=True))
        assert tab_breached == expected_breached
        assert not tab_breached & tab_risk
        counts = dashboard_context(user=self.member, now=now)
        assert counts["breached_count"] == len(tab_breached)
        assert counts["at_risk_count"] == len(tab_risk)
        # Reports count finished clocks by status; breach reviews list the breaches on record.
        recorded = set(Clock.objects.filter(recorded_breach_q()).values_list("pk", flat=True))
        assert recorded <= breached
        listed = set(breaches_to_review(user=self.lead).values_list("pk", flat=True))
        assert listed == recorded

    @invariant()
    def steps_fire_once_and_in_order(self):
        duplicated = (
            Notification.objects.values("dedup_key").annotate(n=Count("pk")).filter(n__gt=1)
        )
        assert not duplicated.exists()
        fired = (
            HandoffEvent.objects.filter(kind__in=[EventKind.ESCALATED, EventKind.WARNED])
            .values("handoff_id", "after__metric", "after__percent")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        assert not fired.exists(), list(fired)
        for clock in Clock.objects.all():
            events = list(
                HandoffEvent.objects.filter(
                    handoff_id=clock.handoff_id, after__metric=clock.metric
                ).order_by("pk")
            )
            breaches = [e for e in events if e.kind == EventKind.CLOCK_BREACHED]
            withdrawals = [e for e in events if e.kind == EventKind.CLOCK_BREACH_WITHDRAWN]
            on_record = clock.breached_at is not None
            assert len(breaches) - len(withdrawals) == int(on_record), clock.pk
            if breaches and on_record:
                last_breach = breaches[-1].pk
                assert not any(e.kind == EventKind.WARNED and e.pk > last_breach for e in events), (
                    clock.pk
                )


@pytest.mark.django_db
def test_the_clock_keeps_its_invariants_whatever_happens():
    run_state_machine_as_test(
        ClockMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        ),
    )
