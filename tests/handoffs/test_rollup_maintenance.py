"""The clock rollups reports read are never stale: after any sequence of what people do to
handoffs — finishing clocks (acknowledge, plan, resolve), reopening, priority changes,
waits that add time in the requester's court, cancellations, sweeps recording breaches,
exception windows withdrawing them — the rollups equal a rebuild from the clocks (on
SQLite too, where they are kept though reports read the clocks); and two finishes
committed at the same moment on the same rollup rows both count (PostgreSQL).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
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
from apps.core.exceptions import Conflict
from apps.handoffs import services
from apps.handoffs.clockwork import rollups
from apps.handoffs.clockwork.sweep import sweep_due_clocks
from apps.handoffs.models import Clock, ClockRollup
from apps.teams.models import Role
from tests.factories import (
    AgreementFactory,
    AgreementSeriesFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)
from tests.helpers import MONDAY_10, TRIAGE
from tests.reports import finished_handoff

OK_REFUSALS = (Conflict, ValidationError, PermissionDenied)
PRIORITIES = ["P1", "P2", "P3", "P4"]
SEGMENTS = ["enterprise", "business", "self_serve"]


def rollup_rows() -> dict[tuple, tuple]:
    """Every rollup row that holds something, by its key."""
    rows = {}
    for row in ClockRollup.objects.all():
        values = tuple(getattr(row, name) for name in rollups.COUNTERS)
        if any(values) or row.buckets:
            key = tuple(getattr(row, name) for name in rollups.KEY)
            rows[key] = (*values, tuple(row.buckets), tuple(row.counts))
            rows[key] += (tuple(row.bins), tuple(row.bin_counts))
            # The bins are the buckets BIN at a time.
            binned = {}
            for b, n in zip(row.buckets, row.counts, strict=True):
                binned[b // rollups.BIN] = binned.get(b // rollups.BIN, 0) + n
            assert (row.bins, row.bin_counts) == (list(binned), list(binned.values())), key
    return rows


def assert_equal_to_a_rebuild() -> None:
    kept = rollup_rows()
    records = dict(Clock.objects.values_list("pk", "rollup"))
    finished = rollups.rebuild()
    assert rollup_rows() == kept
    assert dict(Clock.objects.values_list("pk", "rollup")) == records
    assert finished == Clock.objects.filter(status__in=rollups.FINISHED).count()


class RollupMachine(RuleBasedStateMachine):
    handoffs = Bundle("handoffs")

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @initialize()
    def world(self):
        provider = TeamFactory(name="Engineering", slug="engineering")
        requesting = TeamFactory(name="Support", slug="support")
        self.provider = provider
        self.lead = MembershipFactory(team=provider, user=UserFactory(), role=Role.LEAD).user
        self.member = MembershipFactory(team=provider, user=UserFactory()).user
        self.requester = MembershipFactory(team=requesting, user=UserFactory()).user
        self.agreement = AgreementFactory(
            series=AgreementSeriesFactory(provider_team=provider, requesting_team=requesting)
        )
        self.now = MONDAY_10

    @rule(minutes=st.integers(min_value=0, max_value=2 * 24 * 60), sweep=st.booleans())
    def time_passes(self, minutes, sweep):
        # Across UTC midnights and month ends: handoffs land on different rollup days.
        self.now += timedelta(minutes=minutes)
        if sweep:
            result = sweep_due_clocks(now=self.now)
            assert result.errors == [], result.errors

    @rule(target=handoffs, priority=st.sampled_from(PRIORITIES), segment=st.sampled_from(SEGMENTS))
    def file(self, priority, segment):
        return services.handoff_create(
            actor=self.requester,
            agreement=self.agreement,
            title="Checkout crashes",
            priority=priority,
            customer_segment=segment,
            triage=TRIAGE,
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

    @rule(handoff=handoffs)
    def reply(self, handoff):
        # A wait that ends adds to the time in the requester's court of finished clocks too.
        self._try(services.handoff_resume, handoff=handoff, actor=self.requester, reply="r")

    @rule(handoff=handoffs, priority=st.sampled_from(PRIORITIES))
    def change_priority(self, handoff, priority):
        # Moves finished clocks to another priority's rows.
        self._try(
            services.handoff_change_priority,
            handoff=handoff,
            actor=self.requester,
            priority=priority,
            reason="r",
        )

    @rule(handoff=handoffs)
    def resolve(self, handoff):
        self._try(services.handoff_resolve, handoff=handoff, actor=self.member, resolution="r")

    @rule(handoff=handoffs)
    def reopen(self, handoff):
        # The resolve clock leaves the rollups; the others now count a reopened handoff.
        self._try(services.handoff_reopen, handoff=handoff, actor=self.requester, reason="r")

    @rule(handoff=handoffs)
    def close(self, handoff):
        self._try(services.handoff_close, handoff=handoff, actor=self.requester)

    @rule(handoff=handoffs)
    def cancel(self, handoff):
        self._try(services.handoff_cancel, handoff=handoff, actor=self.requester, reason="r")

    @rule(back=st.integers(min_value=0, max_value=3 * 24 * 60))
    def window(self, back):
        # Withdraws breaches of live clocks (never of finished ones: they stay as they are).
        start = self.now - timedelta(minutes=back)
        with contextlib.suppress(*OK_REFUSALS):
            window = agreement_services.exception_window_request(
                actor=self.member,
                provider_team=self.provider,
                series=self.agreement.series,
                start=start,
                end=self.now + timedelta(hours=1),
                reason="Outage",
                affected_customers="none",
                communication_plan="Status page.",
                now=self.now,
            )
            agreement_services.exception_window_approve(
                window=window, actor=self.lead, now=self.now
            )

    @invariant()
    def rollups_equal_a_rebuild(self):
        if hasattr(self, "agreement"):
            assert_equal_to_a_rebuild()


@pytest.mark.django_db
def test_rollups_equal_a_rebuild_after_any_sequence_of_changes():
    run_state_machine_as_test(
        RollupMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


@pytest.mark.django_db
def test_a_finished_clock_adds_its_figures_and_a_reopen_takes_the_resolution_back(
    file_handoff, provider_member, requester
):
    handoff = file_handoff("P2", customer_segment="enterprise")
    later = MONDAY_10 + timedelta(minutes=30)
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=later)
    services.handoff_resolve(
        handoff=handoff, actor=provider_member, resolution="Fixed", now=later + timedelta(hours=1)
    )
    day = ClockRollup.objects.filter(grain="day", customer_segment="enterprise")
    assert {row.metric: row.volume for row in day} == {
        "acknowledge": 1,
        "action_plan": 1,
        "resolve": 1,
    }
    ack = day.get(metric="acknowledge")
    assert (ack.met, ack.breached, ack.handoffs, ack.buckets, ack.counts) == (1, 0, 1, [30], [1])
    # Only the first finished clock counts the handoff.
    assert day.get(metric="resolve").handoffs == 0

    services.handoff_reopen(
        handoff=handoff, actor=requester, reason="Still broken", now=later + timedelta(hours=2)
    )
    resolve = day.get(metric="resolve")
    assert (resolve.volume, resolve.buckets) == (0, [])
    assert day.get(metric="acknowledge").reopened == 1
    assert_equal_to_a_rebuild()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_finishes_committed_at_once_on_the_same_rows_both_count(
    file_handoff, provider_team, provider_member
):
    first, second = file_handoff("P3"), file_handoff("P3")
    other = MembershipFactory(team=provider_team, user=UserFactory()).user
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def acknowledge(handoff, actor, hold: float):
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                services.handoff_acknowledge(
                    handoff=handoff, actor=actor, now=MONDAY_10 + timedelta(minutes=20)
                )
                # Hold the rollup rows: the other finish meets them locked and waits.
                time.sleep(hold)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=acknowledge, args=(first, provider_member, 0.5)),
        threading.Thread(target=acknowledge, args=(second, other, 0.0)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    rows = ClockRollup.objects.filter(metric="acknowledge", volume__gt=0)
    assert {(row.grain, row.priority, row.customer_segment) for row in rows} == {
        ("day", "P3", "business"),
        ("month", "P3", "*"),
        ("month", "*", "business"),
    }
    for row in rows:
        assert (row.volume, row.met, row.handoffs, row.counts) == (2, 2, 2, [2])
    assert_equal_to_a_rebuild()


def test_an_acknowledge_writes_its_rollups_as_its_last_statement(file_handoff, provider_member):
    """A rollup row is shared by every acknowledge of its team, priority and day: written
    last, it is held locked for the commit alone, not through the events and the
    notifications (people acting at once would queue on it)."""
    handoff = file_handoff("P3")
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        services.handoff_acknowledge(
            handoff=handoff, actor=provider_member, now=MONDAY_10 + timedelta(minutes=20)
        )
    writes = [
        s
        for s in statements
        if not s.lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE"))
    ]
    rollup = [i for i, s in enumerate(writes) if "handoffs_clockrollup" in s]
    # Nothing else is written after the rollups: one statement on PostgreSQL; on SQLite
    # the counters, then each histogram read and written (`rollups.apply`).
    assert rollup and rollup == list(range(rollup[0], len(writes))), writes[-3:]
    if connection.vendor == "postgresql":
        assert sum("handoffs_clockrollup" in s for s in statements) == 1
    assert ClockRollup.objects.get(grain="day", metric="acknowledge").met == 1


def test_a_settle_in_a_savepoint_rolled_back_alone_leaves_no_figures(file_handoff, provider_member):
    """Inside a change whose rollups are written last, a savepoint that changes clocks and
    rolls back alone takes its figures with it; the change's own figures stand."""
    first, second = file_handoff("P3"), file_handoff("P3")
    now = MONDAY_10 + timedelta(minutes=20)

    @rollups.one_change
    def acknowledge_one_and_try_another():
        services.handoff_acknowledge(handoff=first, actor=provider_member, now=now)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            clocks = list(Clock.objects.select_for_update().filter(handoff=second))
            for clock in clocks:
                clock.status = "met"
                clock.consumed_seconds = 60
            rollups.settle(clocks)
            raise RuntimeError("rolled back alone")

    acknowledge_one_and_try_another()
    day = ClockRollup.objects.get(grain="day", metric="acknowledge")
    assert (day.volume, day.met, day.handoffs) == (1, 1, 1)
    assert_equal_to_a_rebuild()


def test_a_change_that_fails_writes_no_figures(file_handoff, provider_member):
    handoff = file_handoff("P3")

    @rollups.one_change
    def acknowledge_then_fail():
        services.handoff_acknowledge(
            handoff=handoff, actor=provider_member, now=MONDAY_10 + timedelta(minutes=20)
        )
        raise RuntimeError("after the acknowledge")

    with pytest.raises(RuntimeError):
        acknowledge_then_fail()
    assert not ClockRollup.objects.filter(volume__gt=0).exists()
    assert_equal_to_a_rebuild()


def test_buckets_are_minutes_below_eight_hours_and_five_minutes_above():
    assert [rollups.bucket(s) for s in (0, 59, 60, 28799, 28800, 29099, 29100)] == [
        0,
        0,
        1,
        479,
        480,
        480,
        481,
    ]
    for seconds in (0, 61, 28799, 28800, 30000, 10**7):
        start = rollups.bucket_seconds(rollups.bucket(seconds))
        width = 60 if seconds < 28800 else 300
        assert start <= seconds < start + width


@pytest.mark.django_db
def test_migration_0009_bins_the_histograms_already_there(agreement):
    """Rows built before the bins existed get them from their buckets."""
    for i, seconds in enumerate((59, 1800, 1801, 7 * 3600, 9 * 3600, 90 * 3600)):
        finished_handoff(
            agreement,
            priority="P2",
            created_at=MONDAY_10 + timedelta(days=i % 2),
            durations={"acknowledge": seconds, "resolve": seconds * 3},
        )
    kept = rollup_rows()
    assert any(len(row[-2]) > 1 for row in kept.values())  # several bins in a row
    ClockRollup.objects.update(bins=[], bin_counts=[])
    migration = importlib.import_module("apps.handoffs.migrations.0009_clockrollup_bins")
    migration.fill_bins(django_apps, SimpleNamespace(connection=connection))
    assert rollup_rows() == kept
